"""Pagination of every list: ``limit`` (1-200, default 50) and ``offset`` query parameters.

Lists answer ``{"items": [...], "limit": L, "offset": O, "total": T}`` (advanced-alchemy's
:class:`~advanced_alchemy.service.OffsetPagination`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from advanced_alchemy.service import OffsetPagination
from litestar.params import Parameter

MAX_LIMIT = 200
DEFAULT_LIMIT = 50


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int


def provide_page(
    limit: Annotated[int, Parameter(query="limit", ge=1, le=MAX_LIMIT, default=DEFAULT_LIMIT)] = DEFAULT_LIMIT,
    offset: Annotated[int, Parameter(query="offset", ge=0, le=1_000_000, default=0)] = 0,
) -> Page:
    """Litestar dependency: the validated page of a list request."""
    return Page(limit=limit, offset=offset)


__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "OffsetPagination", "Page", "provide_page"]
