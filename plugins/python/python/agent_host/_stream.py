"""One turn's writer, and the pump that drives a turn's async generator into it.

Why: a crossing into Rust costs far more than appending to a list, and agents often
stream many tiny chunks. The native sink (``agent_host._native.TurnSink``) therefore
comes with a native pump that steps the generator itself and packs text chunks into one
buffer without running Python code per chunk (see ``PythonPump`` for the contract).
Sinks without one (a ``send`` turn submitted without a sink, test doubles) get ``PythonPump``: text chunks
are appended to a per-turn list, and a single ``loop.call_soon`` per loop iteration
(shared by every turn with pending text) hands each turn's list over in one
``TurnSink.texts`` call. A turn whose generator never awaits would never let that
callback run, so a turn is also flushed on the spot once it holds ``CAP`` chunks.
Anything else the turn writes (events, its end) first flushes the turn's pending text,
which keeps the order intact.

A sink method returning ``False`` means the turn is over on the Rust side (its handle
was dropped or cancelled): the writer goes dead and the turn stops.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from typing import Any, Optional, Protocol

from ._events import AgentError, Step, StructuredOutput, Thought, ToolCall, Usage, UsageTuple

__all__ = [
    "CAP",
    "Flusher",
    "PUMP_END",
    "PUMP_OVER",
    "YIELDED_NONE",
    "PythonPump",
    "SinkLike",
    "TurnOver",
    "TurnWriter",
    "flusher_for",
    "unencodable",
]

CAP = 4096
"""Pending chunks at which a turn is flushed without waiting for the loop's next turn
(the native pump uses the same figure)."""


class _Marker:
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return f"agent_host._stream.{self._name}"


PUMP_END: Any = None
"""What ``await pump`` returns once the generator is exhausted: ``None``, because a native
awaitable ends with ``None`` at no cost (no ``StopIteration`` is made), and every turn
ends this way."""
PUMP_OVER: Any = _Marker("PUMP_OVER")
"""What ``await pump`` returns once the turn is over and wants no more text."""
YIELDED_NONE: Any = _Marker("YIELDED_NONE")
"""What ``await pump`` returns for a ``None`` the generator yielded (not an event)."""


class SinkLike(Protocol):
    """The Rust ``agent_host._native.TurnSink`` API (one per chat turn)."""

    def texts(self, chunks: list[str]) -> bool: ...
    def thought(self, text: str) -> bool: ...
    def tool_call(self, id: str, name: str, args_json: str) -> bool: ...
    # A turn's native sink (``chat``'s or ``send``'s) also runs host tools
    # (``agent_host._tools``): ``call_tool(name, args_json) -> Optional[int]``,
    # ``abort_tool(key)`` and ``tool_messages()``; ``_UnreadSink`` has none.
    def step(self, index: int, description: str) -> bool: ...
    def usage(self, counts: UsageTuple) -> bool: ...
    def complete(
        self,
        usage: Optional[UsageTuple],
        structured_json: Optional[str],
        chunks: Optional[list[str]] = None,
    ) -> Optional[str]:
        """Ends the turn well; returns its whole text, or ``None`` if it was over."""
    def fail(self, kind: str, message: str, retry_after: Optional[float]) -> bool: ...
    @property
    def cancelled(self) -> bool: ...

    # A sink may also offer ``pump(agen)``, returning its own pump (the native one does).


class TurnOver(Exception):
    """Raised inside a turn when its sink said the turn has ended on the Rust side."""


class Flusher:
    """Flushes every turn with pending text, once per event-loop iteration.

    One per event loop (see ``flusher_for``), so that the single scheduled callback
    serves all turns of all agents. It holds no reference to its loop (the loop is
    the key of a weak mapping to it), and looks the running loop up when scheduling,
    which happens at most once per loop iteration.
    """

    __slots__ = ("_dirty", "_scheduled")

    def __init__(self) -> None:
        self._dirty: list[TurnWriter] = []
        self._scheduled = False

    def schedule(self, writer: "TurnWriter") -> None:
        """Notes that ``writer`` has pending text; flushes it on the loop's next pass."""
        self._dirty.append(writer)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self.flush_all)

    def flush_all(self) -> None:
        """Hands every dirty turn's chunks over, one sink call per turn."""
        self._scheduled = False
        dirty, self._dirty = self._dirty, []
        for writer in dirty:
            if writer.pending:
                try:
                    alive = writer.flush()
                except BaseException as error:  # a sink that raises is a dead sink
                    writer.kill()
                    _report("agent_host: writing text to a turn failed", error)
                    alive = False
                if not alive:
                    writer.turn_over()


_FLUSHERS: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Flusher]" = (
    weakref.WeakKeyDictionary()
)


def flusher_for(loop: asyncio.AbstractEventLoop) -> Flusher:
    """The one flusher of ``loop``, shared by every bridge on it (one callback per pass)."""
    flusher = _FLUSHERS.get(loop)
    if flusher is None:
        flusher = _FLUSHERS[loop] = Flusher()
    return flusher


def _report(message: str, error: BaseException) -> None:
    """Reports an error nobody waits for through the loop's exception handler."""
    try:
        asyncio.get_running_loop().call_exception_handler(
            {"message": message, "exception": error}
        )
    except Exception:
        pass


class _UnreadSink:
    """The sink of a ``send`` turn submitted without one (the Rust side always gives
    one; a bridge driven alone may not): keeps only the text, for the history."""

    __slots__ = ("_chunks",)
    cancelled = False

    def __init__(self) -> None:
        self._chunks: list[str] = []

    def texts(self, chunks: list[str]) -> bool:
        self._chunks += chunks
        return True

    def thought(self, text: str) -> bool:
        return True

    def tool_call(self, id: str, name: str, args_json: str) -> bool:
        return True

    def step(self, index: int, description: str) -> bool:
        return True

    def usage(self, counts: UsageTuple) -> bool:
        return True

    def complete(
        self,
        usage: Optional[UsageTuple],
        structured_json: Optional[str],
        chunks: Optional[list[str]] = None,
    ) -> Optional[str]:
        if chunks:
            self._chunks += chunks
        return "".join(self._chunks)

    def fail(self, kind: str, message: str, retry_after: Optional[float] = None) -> bool:
        return True


class PythonPump:
    """Drives a turn's async generator into its writer; ``await pump`` returns the next
    item that is not text (``YIELDED_NONE`` for ``None``), ``PUMP_END`` (``None``) once the
    generator is exhausted, or ``PUMP_OVER`` once the turn is over (its sink refused text, or the turn was stopped and the
    generator still yields text). Text chunks (``str``) go to the writer in batches, and
    an exception from the generator propagates. Each ``await`` runs the generator until
    it has something for the caller: the native pump (``TurnSink.pump``) keeps this
    contract without running Python code per chunk."""

    __slots__ = ("_anext", "_writer")

    def __init__(self, agen: Any, writer: "TurnWriter") -> None:
        self._anext = agen.__anext__
        self._writer = writer

    def __await__(self) -> Any:
        return self._next().__await__()

    async def _next(self) -> Any:
        writer = self._writer
        pending = writer.pending
        anext = self._anext
        while True:
            try:
                item = await anext()
            except StopAsyncIteration:
                return PUMP_END
            if type(item) is not str:
                if not isinstance(item, str):
                    return YIELDED_NONE if item is None else item
                item = str(item)  # a str subclass: its plain text, like the native pump
            if not writer.alive:
                return PUMP_OVER
            if pending:
                pending.append(item)
                # A turn that never awaits never lets the flusher run.
                if len(pending) >= CAP and not writer.flush():
                    return PUMP_OVER
            else:
                pending.append(item)
                writer.flusher.schedule(writer)  # first chunk since a flush


class TurnWriter:
    """Writes one turn into its sink, batching text; keeps what the history needs.

    ``pending`` and ``flusher`` are public on purpose: ``PythonPump`` appends to
    ``pending`` directly and never calls a method per chunk.
    """

    __slots__ = (
        "sink",
        "pending",
        "alive",
        "usage",
        "structured_json",
        "flusher",
    )

    def __init__(self, sink: Optional[SinkLike], flusher: Flusher) -> None:
        self.sink: SinkLike = _UnreadSink() if sink is None else sink
        self.pending: list[str] = []
        self.alive = True
        # The counts of the turn's last ``Usage`` event.
        self.usage: Optional[UsageTuple] = None
        self.structured_json: Optional[str] = None
        self.flusher = flusher

    # -- text -------------------------------------------------------------------------

    def flush(self) -> bool:
        """Hands the pending chunks over in one call; ``False`` once the turn is over."""
        if not self.alive:
            return False
        pending = self.pending
        if not pending:
            return True
        # The sink copies the chunks during the call, so the list can be reused after.
        taken = self.sink.texts(pending)
        pending.clear()
        if taken:
            return True
        self.alive = False
        return False

    def text(self, chunk: str) -> bool:
        """One chunk, outside the hot loop (e.g. a coroutine's whole answer)."""
        if not self.alive:
            return False
        if not self.pending:
            self.flusher.schedule(self)
        self.pending.append(chunk)
        if len(self.pending) >= CAP:
            return self.flush()
        return True

    # -- other events -----------------------------------------------------------------

    def event(self, event: object) -> bool:
        """Writes a non-text event (after the pending text); ``False`` once the turn is over.

        Raises ``AgentError`` for an object that is no event, naming its type.
        """
        if not self.flush():
            return False
        kind = type(event)
        sink = self.sink
        if kind is Usage or isinstance(event, Usage):
            counts = self.usage = event.as_tuple()  # type: ignore[attr-defined]
            alive = sink.usage(counts)
        elif kind is Thought or isinstance(event, Thought):
            alive = sink.thought(event.text)  # type: ignore[attr-defined]
        elif kind is Step or isinstance(event, Step):
            alive = sink.step(event.index, event.description)  # type: ignore[attr-defined]
        elif kind is ToolCall or isinstance(event, ToolCall):
            alive = sink.tool_call(
                event.id, event.name, _to_json(event.args, "ToolCall.args")  # type: ignore[attr-defined]
            )
        elif kind is StructuredOutput or isinstance(event, StructuredOutput):
            # Carried by the turn's completion, not streamed.
            self.structured_json = _to_json(event.value, "StructuredOutput.value")  # type: ignore[attr-defined]
            return True
        else:
            if event is YIELDED_NONE:
                event, kind = None, type(None)
            raise AgentError(
                f"chat yielded an object of unsupported type "
                f"{kind.__module__}.{kind.__qualname__} ({_short_repr(event)}); an agent "
                "may yield str, Thought, ToolCall, Step, Usage or StructuredOutput"
            )
        if not alive:
            self.alive = False
        return alive

    # -- the end ----------------------------------------------------------------------

    def complete(self) -> Optional[str]:
        """Ends the turn well and returns its whole answer, or ``None`` if the turn was
        already over (then it does not count)."""
        if not self.alive:
            return None
        pending = self.pending
        # The last chunks ride along with the result: one call, and the reader is woken
        # once, when everything is there.
        last = pending if pending else None
        self.alive = False
        answer = self.sink.complete(self.usage, self.structured_json, last)
        pending.clear()
        return answer

    def fail(self, kind: str, message: str, retry_after: Optional[float] = None) -> bool:
        """Ends the turn with an error, after handing over the text written so far."""
        if self.alive:
            try:
                self.flush()
            except BaseException:
                pass  # the error being reported matters more
        self.alive = False
        return self.sink.fail(kind, message, retry_after)

    def kill(self) -> None:
        """Stops writing: every later write reports the turn as over."""
        self.alive = False

    def turn_over(self) -> None:
        """The sink refused a write outside the turn's task (the flusher's): the turn is
        over. A subclass that runs the turn stops it here."""
        self.alive = False


def unencodable(source: Any, chunk: str, start: int) -> AgentError:
    """The error for a text chunk that is no valid Unicode text (a lone surrogate at
    ``start``, which UTF-8 cannot carry). ``source`` is the agent's generator, suspended
    at the ``yield`` that gave the chunk, so its frame says where that was (``None``: the
    whole answer of a coroutine ``chat``)."""
    if source is None:
        where = "the agent's answer"
    else:
        name = getattr(source, "__qualname__", None) or type(source).__qualname__
        frame = getattr(source, "ag_frame", None)
        where = f"{name} yielded a str"
        if frame is not None:
            where += f" ({frame.f_code.co_filename}, line {frame.f_lineno})"
    return AgentError(
        f"{where} that is not valid Unicode text: a lone surrogate {chunk[start]!r} at "
        f"index {start} of {_short_repr(chunk)} (UTF-8 cannot carry it); the text before "
        "it was delivered"
    )


def _to_json(value: Any, what: str) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise AgentError(f"{what} is not JSON-serializable: {error}") from None


def _short_repr(value: object) -> str:
    try:
        text = repr(value)
    except Exception:
        return "unprintable"
    return text if len(text) <= 80 else text[:77] + "..."
