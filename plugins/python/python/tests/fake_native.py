"""A pure-Python stand-in for the Rust module ``agent_host._native``.

Same API as the Rust ``Reply`` and ``TurnSink``, plus what tests need to look inside:
every answer and event is recorded, and futures let a test await the end. ``Op`` is
built from the Rust side's own list (``src/op.rs``), as the plugin builds it, so the
two cannot drift apart. Importing this module installs it as ``agent_host._native``.
"""

from __future__ import annotations

import asyncio
import enum
import json
import re
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

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


class ToolMessages:
    """Stands for the Rust ``ToolMessages``: a turn's finished calls, in call order."""

    def __init__(self, exchanges: List[Tuple[Any, ...]]) -> None:
        self.exchanges = exchanges

    def __len__(self) -> int:
        return 2 * len(self.exchanges)


class SavedFile:
    """Stands for the Rust ``SavedFile``: counts clears, or raises ``fail_with``."""

    def __init__(self) -> None:
        self.clears = 0
        self.fail_with: Optional[BaseException] = None

    def clear(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.clears += 1


class TurnSink:
    """Records a turn's events; ``refuse_after`` texts calls, every write returns False.

    Host tools: ``tools`` maps names to async handlers (``args -> result``, raising
    for an error). ``call_tool`` runs one as a task, like the Rust side on tokio, and
    answers through ``bridge.submit(Op.TOOL_DONE, ...)`` (the test sets ``bridge``,
    ``agent_id`` and ``turn_id``; ``Harness.chat`` does)."""

    def __init__(
        self, refuse_after: Optional[int] = None, tools: Optional[Dict[str, Any]] = None
    ) -> None:
        self.tools: Dict[str, Any] = dict(tools or {})
        self.bridge: Any = None
        self.agent_id = 0
        self.turn_id = 0
        self.calls_started = 0
        self.calls_pending: Dict[int, "asyncio.Task[None]"] = {}
        self.calls_aborted: List[int] = []
        self.exchanges: List[Tuple[Any, ...]] = []
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
        self._end_calls()
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

    def call_tool(self, name: str, args_json: str) -> Optional[int]:
        assert isinstance(name, str) and isinstance(args_json, str)
        if not self._open():
            return None
        key = self.calls_started
        self.calls_started += 1
        call_id = f"call-{self.turn_id}-{key}"
        args = json.loads(args_json)
        self.events.append(("tool_call", call_id, name, args_json))

        async def run() -> None:
            handler = self.tools.get(name)
            try:
                if handler is None:
                    raise LookupError(f"no tool named `{name}`")
                ok, value = True, await handler(args)
            except asyncio.CancelledError:
                ok, value = False, "the tool call was dropped: its turn ended"
            except Exception as error:
                ok, value = False, str(error)
            self.calls_pending.pop(key, None)
            if not (self.ended or self.dropped):
                self.events.append(("tool_result", call_id, name, ok, value))
            self.exchanges.append((key, call_id, name, args, ok, value))
            self.bridge.submit(
                Op.TOOL_DONE, self.agent_id, (self.turn_id, key, ok, value), None, None
            )

        self.calls_pending[key] = asyncio.get_running_loop().create_task(run())
        return key

    def abort_tool(self, key: int) -> None:
        task = self.calls_pending.pop(key, None)
        if task is not None:
            self.calls_aborted.append(key)
            task.cancel()

    def _end_calls(self) -> None:
        for key in list(self.calls_pending):
            self.abort_tool(key)

    def tool_messages(self) -> Optional[ToolMessages]:
        if not self.calls_started:
            return None
        return ToolMessages(sorted(self.exchanges))

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
