"""The event loop the plugin runs agents on: asyncio's own, with two hooks.

The Rust side needs a word before the loop waits for I/O: it takes commands that
arrived meanwhile without a wake-up byte, and briefly watches for the next command
before the loop goes to sleep. And one after: the watchdog that names an agent blocking
the loop counts the loop's comings and goings. Only the plugin creates this loop;
agents see a plain ``asyncio`` loop.
"""

from __future__ import annotations

import asyncio
import selectors
from typing import Any, Callable, List, Optional, Tuple

__all__ = ["new_event_loop"]

BeforeWait = Callable[[Optional[float]], bool]
AfterWait = Callable[[], None]


def _nothing() -> None:
    pass


class _HookedSelector(selectors.DefaultSelector):  # type: ignore[misc, valid-type]
    """``before_wait(timeout)`` runs first; ``True`` means work arrived: do not sleep.
    ``after_wait()`` runs when the wait is over (the watchdog counts the loop's passes)."""

    def __init__(self, before_wait: BeforeWait, after_wait: AfterWait) -> None:
        super().__init__()
        self._before_wait = before_wait
        self._after_wait = after_wait

    def select(self, timeout: Optional[float] = None) -> List[Tuple[Any, int]]:
        if self._before_wait(timeout):
            timeout = 0
        try:
            return super().select(timeout)
        finally:
            self._after_wait()


def new_event_loop(
    before_wait: BeforeWait, after_wait: AfterWait = _nothing
) -> asyncio.AbstractEventLoop:
    """An asyncio selector loop whose every wait for I/O is preceded by ``before_wait``
    and followed by ``after_wait``."""
    return asyncio.SelectorEventLoop(_HookedSelector(before_wait, after_wait))
