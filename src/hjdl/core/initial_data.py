"""Time-zero data of the Hamilton–Jacobi problem and the bijection with LSE weights (THEORY §2).

For any HJ time ``t > 0`` and SPD metric ``A`` (default ``I``), the layer ``f(x) = LSE_eps(Wx + b)``
corresponds to atoms and initial values

    y_j = 2t A W_j,        g_j = −b_j − y_jᵀ A⁻¹ y_j / (4t)   (= −b_j − t W_jᵀ A W_j),

with inverse ``W_j = A⁻¹ y_j / (2t)``, ``b_j = −g_j − y_jᵀ A⁻¹ y_j / (4t)``.
"""

from __future__ import annotations

import torch

from .._validation import (
    as_tensor,
    check_finite,
    check_layer,
    check_matrix_rows,
    check_spd,
    check_time,
    check_vector,
    common,
)
from ..errors import DomainError, InputError

__all__ = ["InitialData", "to_initial_data", "from_initial_data"]


class InitialData:
    """Initial data of ``u_t + ∇uᵀA∇u = eps tr(A∇²u)``: ``u(x, 0) = g_j`` at atoms ``y_j``.

    Args:
        y: atoms, shape ``(N, d)``, finite.
        g: initial values, shape ``(N,)``, finite.
        A: optional symmetric positive definite ``(d, d)`` metric; ``None`` means the identity.

    All three share one floating dtype and device (the promoted dtype of the inputs).

    Example:
        >>> import hjdl
        >>> data = hjdl.InitialData([[-1.0], [1.0]], [0.0, 0.5])
        >>> data.n_atoms, data.dim
        (2, 1)
    """

    __slots__ = ("y", "g", "A", "_chol", "_A_inv", "_logdet", "_white")

    def __init__(self, y, g, A=None):
        yt = check_matrix_rows(as_tensor(y, "y"), "y")
        gt = as_tensor(g, "g")
        tensors, names = [yt, gt], ("y", "g")
        if A is not None:
            tensors.append(as_tensor(A, "A"))
            names = names + ("A",)
        tensors = common(*tensors, names=names)
        yt, gt = tensors[0], tensors[1]
        check_vector(gt, yt.shape[0], "g", f"the {yt.shape[0]} atoms in y")
        check_finite(yt, "y")
        check_finite(gt, "g")
        self.y, self.g = yt, gt
        self.A = None if A is None else check_spd(tensors[2], yt.shape[1], "A")
        self._chol = self._A_inv = self._logdet = self._white = None

    # -- metric helpers --------------------------------------------------------------------
    @property
    def n_atoms(self) -> int:
        return self.y.shape[0]

    @property
    def dim(self) -> int:
        return self.y.shape[1]

    @property
    def dtype(self) -> torch.dtype:
        return self.y.dtype

    @property
    def device(self) -> torch.device:
        return self.y.device

    @property
    def isotropic(self) -> bool:
        return self.A is None

    def metric(self) -> torch.Tensor:
        """``A`` as a tensor (the identity when ``A is None``)."""
        if self.A is None:
            return torch.eye(self.dim, dtype=self.dtype, device=self.device)
        return self.A

    def cholesky(self) -> torch.Tensor:
        """Lower Cholesky factor ``C`` of ``A = C Cᵀ``."""
        if self._chol is None:
            self._chol = torch.linalg.cholesky(self.metric())
        return self._chol

    def metric_inverse(self) -> torch.Tensor:
        """``A⁻¹`` (by Cholesky)."""
        if self._A_inv is None:
            self._A_inv = (self.metric() if self.A is None
                           else torch.cholesky_inverse(self.cholesky()))
        return self._A_inv

    def whitener(self) -> torch.Tensor | None:
        """``L = C⁻¹`` (lower triangular), so that ``|L v|² = vᵀA⁻¹v``; ``None`` for the identity."""
        if self.A is None:
            return None
        if self._white is None:
            C = self.cholesky()
            eye = torch.eye(self.dim, dtype=self.dtype, device=self.device)
            self._white = torch.linalg.solve_triangular(C, eye, upper=False)
        return self._white

    def logdet(self) -> torch.Tensor:
        """``log det A`` (0 for the identity)."""
        if self._logdet is None:
            if self.A is None:
                self._logdet = self.y.new_zeros(())
            else:
                self._logdet = 2 * torch.log(torch.diagonal(self.cholesky())).sum()
        return self._logdet

    def apply_inverse(self, v: torch.Tensor) -> torch.Tensor:
        """Rows ``v_j`` mapped to ``A⁻¹ v_j`` (shape (..., d))."""
        if self.A is None:
            return v
        return torch.cholesky_solve(v.reshape(-1, self.dim).T, self.cholesky()).T.reshape(v.shape)

    def to(self, *args, **kwargs) -> "InitialData":
        """A copy moved / cast like ``torch.Tensor.to``; the dtype must stay floating."""
        try:
            y = self.y.to(*args, **kwargs)
        except (TypeError, RuntimeError) as err:
            raise InputError(f"InitialData.to: cannot convert with arguments {args!r} {kwargs!r} ({err}); "
                             "accepted: what torch.Tensor.to accepts, e.g. a floating dtype or a device") from None
        if not y.dtype.is_floating_point:
            raise InputError(f"InitialData.to: expected a floating dtype, received {y.dtype}; accepted: "
                             "torch.float16, torch.bfloat16, torch.float32, torch.float64")
        return InitialData(y, self.g.to(y), None if self.A is None else self.A.to(y))

    def __repr__(self) -> str:
        metric = "I" if self.A is None else "SPD"
        return (f"InitialData(n_atoms={self.n_atoms}, dim={self.dim}, A={metric}, "
                f"dtype={self.dtype}, device={self.device})")


def _check_t_scalar(t, like):
    tt = check_time(t, like=like)
    if tt.ndim:
        raise DomainError(f"t: expected a single positive number, received shape {tuple(tt.shape)}")
    return tt


def to_initial_data(W, b, t=1.0, A=None) -> InitialData:
    """Atoms and values of the layer ``LSE_eps(Wx + b)`` at HJ time ``t`` (THEORY §2).

    ``y_j = 2t A W_j``, ``g_j = −b_j − t W_jᵀ A W_j``. Inverse of :func:`from_initial_data`.

    Example:
        >>> import torch, hjdl
        >>> data = hjdl.to_initial_data(torch.tensor([[1.0]]), torch.tensor([0.0]), t=0.5)
        >>> data.y, data.g
        (tensor([[1.]]), tensor([-0.5000]))
    """
    Wt, bt = check_layer(W, b)
    tt = _check_t_scalar(t, Wt)
    if A is None:
        WA = Wt
    else:
        At = check_spd(as_tensor(A, "A", dtype=Wt.dtype, device=Wt.device), Wt.shape[1], "A")
        WA = Wt @ At
    y = 2 * tt * WA
    g = -bt - tt * (WA * Wt).sum(-1)
    return InitialData(y, g, A if A is None else At)


def from_initial_data(data: InitialData, t=1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Weights ``(W, b)`` of the LSE layer whose Hopf–Cole problem is ``data`` at time ``t``.

    ``W_j = A⁻¹ y_j / (2t)``, ``b_j = −g_j − y_jᵀ A⁻¹ y_j / (4t)`` (THEORY §2).

    Example:
        >>> import hjdl
        >>> W, b = hjdl.from_initial_data(hjdl.InitialData([[1.0]], [-0.5]), t=0.5)
        >>> W, b
        (tensor([[1.]], dtype=torch.float64), tensor([0.], dtype=torch.float64))
    """
    if not isinstance(data, InitialData):
        raise InputError(f"data: expected an hjdl.InitialData, received {type(data).__name__}; "
                         "build one with hjdl.InitialData(y, g, A)")
    tt = _check_t_scalar(t, data.y)
    Ainv_y = data.apply_inverse(data.y)
    W = Ainv_y / (2 * tt)
    b = -data.g - (Ainv_y * data.y).sum(-1) / (4 * tt)
    return W, b
