"""The ``hjdl explore`` command (being written in this session)."""

from __future__ import annotations


def add_explore_parser(sub) -> None:
    """Register ``hjdl explore`` on the CLI's subparsers (placeholder)."""
    return None
