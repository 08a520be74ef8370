"""How a call is answered: the ``Reply`` protocol, and errors as the Rust side takes them.

An operation answers its ``Reply`` (``agent_host._native.Reply``) exactly once: with a
value, or with ``(kind, message, retry_after)``, the triple ``classify`` makes of an
exception (the kinds are those the Rust side's ``convert::error_from_kind`` knows).
"""

from __future__ import annotations

import asyncio
import traceback
from typing import Optional, Protocol, Tuple

from ._events import AgentError, InvalidConfig, QuotaExceeded

__all__ = ["ReplyLike", "classify", "describe"]


class ReplyLike(Protocol):
    """The Rust ``agent_host._native.Reply`` API: answered exactly once."""

    def ok(self, value: object) -> None: ...
    def err(self, kind: str, message: str, retry_after: Optional[float] = None) -> None: ...


def classify(error: BaseException) -> Tuple[str, str, Optional[float]]:
    """``(kind, message, retry_after)`` for an exception, as the Rust side expects.

    The host's own exceptions carry their message only; anything else is a bug or an
    unexpected failure in the agent, so its type, message and traceback go along.
    """
    if isinstance(error, QuotaExceeded):
        return "quota", error.message, error.retry_after
    if isinstance(error, InvalidConfig):
        return "invalid_config", error.message, None
    if isinstance(error, AgentError):
        return "backend", error.message, None
    if isinstance(error, asyncio.CancelledError):
        return "cancelled", "cancelled", None
    return "backend", describe(error), None


def describe(error: BaseException) -> str:
    """``"ExcType: message"`` then the full traceback."""
    head = f"{type(error).__qualname__}: {error}"
    try:
        return head + "\n" + "".join(traceback.format_exception(error)).rstrip()
    except Exception:
        return head
