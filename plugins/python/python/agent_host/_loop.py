"""The event loop the plugin runs agents on: asyncio's own, with one hook.

The Rust side needs a word before the loop waits for I/O: it takes commands that
arrived meanwhile without a wake-up byte, and briefly watches for the next command
before the loop goes to sleep. Only the plugin creates
this loop; agents see a plain ``asyncio`` loop.
"""

from __future__ import annotations

import asyncio
import selectors
from typing import Any, Callable, List, Optional, Tuple

__all__ = ["new_event_loop"]

BeforeWait = Callable[[Optional[float]], bool]


class _HookedSelector(selectors.DefaultSelector):  # type: ignore[misc, valid-type]
    """``before_wait(timeout)`` runs first; ``True`` means work arrived: do not sleep."""

    def __init__(self, before_wait: BeforeWait) -> None:
        super().__init__()
        self._before_wait = before_wait

    def select(self, timeout: Optional[float] = None) -> List[Tuple[Any, int]]:
        if self._before_wait(timeout):
            timeout = 0
        return super().select(timeout)


def new_event_loop(before_wait: BeforeWait) -> asyncio.AbstractEventLoop:
    """An asyncio selector loop whose every wait for I/O is preceded by ``before_wait``."""
    return asyncio.SelectorEventLoop(_HookedSelector(before_wait))
