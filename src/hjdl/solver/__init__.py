"""Mesh-free viscous Hamilton-Jacobi solver (being written in this session)."""

__all__ = ["solve"]


def solve(*args, **kwargs):  # placeholder until the solver lands
    raise NotImplementedError("hjdl.solve is being written")
