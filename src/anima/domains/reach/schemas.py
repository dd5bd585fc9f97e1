"""Answers of the reach routes."""

from __future__ import annotations

import msgspec


class UnsubscribeOut(msgspec.Struct):
    """The outcome of a one-click unsubscribe: the organization, and whether this request recorded it
    (False: the recipient had already opted out)."""

    organization: str
    recorded: bool
