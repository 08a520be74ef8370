"""A pure-Python stand-in for the Rust module ``agent_host._native``.

Same API as the Rust ``Reply`` and ``TurnSink``, plus what tests need to look inside:
every answer and event is recorded, and futures let a test await the end. ``Op`` is
built from the Rust side's own list (``src/op.rs``), as the plugin builds it, so the
two cannot drift apart. Importing this module installs it as ``agent_host._native``.
"""

from __future__ import annotations

import asyncio
import enum
import re
import sys
from pathlib import Path
from typing import Any, List, Optional, Tuple

OP_SOURCE = Path(__file__).resolve().parents[2] / "src" / "op.rs"
"""Where the Rust side defines the operations (``Variant => "name",`` in ``ops!``)."""


def _op_names() -> List[str]:
    source = OP_SOURCE.read_text()
    listing = source[source.index("\nops! {") :]
    listing = listing[: listing.index("\n}")]
    names = re.findall(r'^\s*[A-Z]\w* => "(\w+)",$', listing, re.MULTILINE)
    assert names, f"no operations found in {OP_SOURCE}"
    return names


Op = enum.IntEnum(  # type: ignore[misc]
    "Op", [(name.upper(), code) for code, name in enumerate(_op_names())], module=__name__
)


class ReplyError(Exception):
    """A reply answered with ``err``; ``kind``/``message``/``retry_after`` as sent."""

    def __init__(self, kind: str, message: str, retry_after: Optional[float]) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message
        self.retry_after = retry_after


class Reply:
    """Answered exactly once; later answers are counted (Rust would ignore them)."""

    def __init__(self) -> None:
        self.answers: List[Tuple[str, Any]] = []
        self._future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def ok(self, value: object) -> None:
        self.answers.append(("ok", value))
        if not self._future.done():
            self._future.set_result(value)

    def err(self, kind: str, message: str, retry_after: Optional[float] = None) -> None:
        assert isinstance(kind, str) and isinstance(message, str)
        self.answers.append(("err", (kind, message, retry_after)))
        if not self._future.done():
            self._future.set_exception(ReplyError(kind, message, retry_after))

    @property
    def answered(self) -> bool:
        return self._future.done()

    async def result(self, timeout: float = 10.0) -> Any:
        return await asyncio.wait_for(asyncio.shield(self._future), timeout)


class TurnSink:
    """Records a turn's events; ``refuse_after`` texts calls, every write returns False."""

    def __init__(self, refuse_after: Optional[int] = None) -> None:
        self.events: List[Tuple[Any, ...]] = []
        self.texts_calls = 0
        self.refuse_after = refuse_after
        self.ended = False
        self.dropped = False
        self.after_end_calls = 0
        self.outcome: Optional[Tuple[Any, ...]] = None
        self._future: asyncio.Future[Tuple[Any, ...]] = (
            asyncio.get_running_loop().create_future()
        )

    # -- what the tests do ------------------------------------------------------------

    def drop(self) -> None:
        """The application dropped the handle: the turn is over on the Rust side."""
        self.dropped = True

    def _open(self) -> bool:
        if self.ended or self.dropped:
            self.after_end_calls += 1
            return False
        return True

    @property
    def chunks(self) -> List[str]:
        return [event[1] for event in self.events if event[0] == "text"]

    @property
    def text(self) -> str:
        return "".join(self.chunks)

    def kinds(self) -> List[str]:
        return [event[0] for event in self.events]

    async def wait(self, timeout: float = 10.0) -> Tuple[Any, ...]:
        return await asyncio.wait_for(asyncio.shield(self._future), timeout)

    def _end(self, outcome: Tuple[Any, ...]) -> None:
        self.ended = True
        self.outcome = outcome
        if not self._future.done():
            self._future.set_result(outcome)

    # -- the TurnSink API -------------------------------------------------------------

    def texts(self, chunks: List[str]) -> bool:
        assert chunks and all(type(chunk) is str for chunk in chunks), chunks
        if not self._open():
            return False
        self.texts_calls += 1
        self.events.extend(("text", chunk) for chunk in chunks)
        if self.refuse_after is not None and self.texts_calls >= self.refuse_after:
            self.dropped = True
        return True

    def thought(self, text: str) -> bool:
        assert isinstance(text, str)
        if not self._open():
            return False
        self.events.append(("thought", text))
        return True

    def tool_call(self, id: str, name: str, args_json: str) -> bool:
        assert isinstance(args_json, str)
        if not self._open():
            return False
        self.events.append(("tool_call", id, name, args_json))
        return True

    def step(self, index: int, description: str) -> bool:
        assert isinstance(index, int) and isinstance(description, str)
        if not self._open():
            return False
        self.events.append(("step", index, description))
        return True

    def usage(self, counts: Tuple[Optional[int], ...]) -> bool:
        assert len(counts) == 5, counts
        if not self._open():
            return False
        self.events.append(("usage", tuple(counts)))
        return True

    def complete(
        self,
        usage: Optional[Tuple[Optional[int], ...]],
        structured_json: Optional[str] = None,
        chunks: Optional[List[str]] = None,
    ) -> Optional[str]:
        if not self._open():
            return None
        if chunks:
            assert all(type(chunk) is str for chunk in chunks), chunks
            self.events.extend(("text", chunk) for chunk in chunks)
        assert usage is None or len(usage) == 5, usage
        self._end(("complete", usage or (None,) * 5, structured_json))
        return self.text

    def fail(self, kind: str, message: str, retry_after: Optional[float] = None) -> bool:
        assert isinstance(kind, str) and isinstance(message, str)
        if self.ended:
            self.after_end_calls += 1
            return False
        # A dropped handle still takes the end (Rust would just discard it).
        self._end(("fail", kind, message, retry_after))
        return not self.dropped

    @property
    def cancelled(self) -> bool:
        return self.dropped or self.ended


sys.modules.setdefault("agent_host._native", sys.modules[__name__])
