"""Turns: each agent's FIFO of them, one asyncio task per turn, and how a turn ends.

An agent plays its turns one at a time, each in its own asyncio task (a task per turn
makes "cancel the running turn" a plain ``Task.cancel``). A turn that completes well is
recorded in the agent's conversation state; a cancelled one runs the agent's
``on_cancel`` hook. A chat turn's text goes from the agent's generator to the turn's
sink through a pump (``agent_host._stream``), never through code here per chunk.
"""

from __future__ import annotations

import asyncio
import inspect
from types import AsyncGeneratorType
from typing import Any, Callable, Optional

from ._agent import NO_USAGE, AgentSlot
from ._base import RuntimeBase
from ._content import Content, Text, _object_new, _set_text, from_parts
from ._events import AgentError, UsageTuple
from ._reply import ReplyLike, classify
from ._stream import PUMP_OVER, Flusher, PythonPump, SinkLike, TurnOver, TurnWriter

__all__ = ["Turn", "TurnQueue"]

_TASK_NAME = "agent_host turn"
"""The name of every turn's asyncio task."""

# Turn states.
_QUEUED = 0
_RUNNING = 1
_FINISHING = 2  # the outcome is decided; a cancel can no longer change it
_DONE = 3


class Turn(TurnWriter):
    """One queued or running turn of one agent; it is also the writer of its output
    (one object per turn instead of two)."""

    __slots__ = ("turn_id", "content", "task", "state", "stopping", "entered", "tools_called")

    def __init__(
        self, turn_id: Optional[int], content: Content, sink: Optional[SinkLike], flusher: Flusher
    ) -> None:
        TurnWriter.__init__(self, sink, flusher)
        self.turn_id = turn_id
        self.content = content
        self.task: Optional[asyncio.Task[None]] = None
        self.state = _QUEUED
        self.stopping = False
        # The task has begun running its body (before that, cancelling the task would
        # skip the body, and with it the code that ends the turn).
        self.entered = False
        # The agent called a host tool (``Tools.call``): the history takes its messages.
        self.tools_called = False

    def stop(self) -> None:
        """Cancels the running turn (no-op once its outcome is decided)."""
        if self.state != _RUNNING or self.stopping:
            return
        self.stopping = True
        # Dead writer: an agent that swallows the cancellation still ends at its next write.
        self.alive = False
        task = self.task
        if self.entered and task is not None and not task.done():
            task.cancel()

    def turn_over(self) -> None:
        """The flusher found the handle gone: stop the turn."""
        self.alive = False
        self.stop()


class TurnQueue(RuntimeBase):
    """The runtime's turn operations: ``chat``, ``send``, ``cancel``, ``cancel_turn``."""

    def chat(self, agent_id: int, arg: Any, reply: Optional[ReplyLike], sink: SinkLike) -> None:
        turn_id, parts = arg
        self.start_turn(agent_id, turn_id, parts, sink)

    def start_turn(self, agent_id: int, turn_id: int, content: Any, sink: SinkLike) -> None:
        """``chat`` as the Rust side calls it, without ``Bridge.submit`` in between (it
        answers an exception by failing the turn): ``content`` is a ``str`` for a plain
        text message, or its wire parts."""
        slot = self.agents[agent_id]
        if type(content) is str:  # ``_new_text``, inlined: one call less per turn
            message = _object_new(Text)
            _set_text(message, content)
        else:
            message = from_parts(content)
        turn = Turn(turn_id, message, sink, self._flusher or self.flusher)
        self.turns[turn_id] = turn
        if slot.current is None and not slot.queue:
            # Just submitted: a handle dropped meanwhile stops it at its first write.
            self._begin(slot, turn)
        else:
            slot.queue.append(turn)

    def send(
        self, agent_id: int, arg: Any, reply: ReplyLike, sink: Optional[SinkLike]
    ) -> None:
        """``arg`` is ``(turn_id, parts)``. The sink is a chat turn's whose handle nobody
        reads (the Rust side keeps it until the turn ends), so the turn calls host tools
        as a chat turn does; it is not in ``turns``: nobody can cancel it by id."""
        slot = self.agents[agent_id]
        turn_id, parts = arg
        turn = Turn(turn_id, from_parts(parts), sink, self._flusher or self.flusher)
        if slot.current is None and not slot.queue:
            self._start(slot, turn)
        else:
            slot.queue.append(turn)
        slot.wake()
        reply.ok(None)

    def cancel(self, agent_id: int, arg: Any, reply: ReplyLike, sink: Optional[SinkLike]) -> None:
        slot = self.agents[agent_id]
        if slot.current is not None:
            slot.current.stop()
        reply.ok(None)

    def cancel_turn(
        self, agent_id: int, arg: Any, reply: Optional[ReplyLike], sink: Optional[SinkLike]
    ) -> None:
        """A turn's handle went away: ends the turn. That may come after the turn or its
        agent is gone (a shutdown ends every turn of the agent), so a turn not found is
        simply over; a queued one's agent is live."""
        turn = self.turns.get(arg)
        if turn is not None:
            if turn.state == _QUEUED:
                slot = self.agents[agent_id]
                slot.queue.remove(turn)
                self._end_unstarted(turn)
                slot.refresh_idle()
            else:
                turn.stop()
        if reply is not None:
            reply.ok(None)

    def tool_done(
        self, agent_id: int, arg: Any, reply: Optional[ReplyLike], sink: Optional[SinkLike]
    ) -> None:
        """A host tool call has its answer: ``(turn_id, key, ok, value)``. Its agent or
        turn may be gone by then (a call the end of its turn dropped): nothing to do."""
        slot = self.agents.get(agent_id)
        if slot is not None and slot.tools is not None:
            slot.tools._done(*arg)

    def _start(self, slot: AgentSlot, turn: Optional[Turn]) -> None:
        """Starts ``turn`` (or the next queued one), skipping turns dropped while queued."""
        while turn is not None:
            if turn.sink.cancelled:
                self._end_unstarted(turn)
                turn = slot.queue.popleft() if slot.queue else None
                continue
            self._begin(slot, turn)
            return

    def _begin(self, slot: AgentSlot, turn: Turn) -> None:
        slot.turns_started += 1
        slot.signalled_idle = False
        slot.current = turn
        turn.state = _RUNNING
        # ``loop.create_task``; on asyncio's own loop without a task factory, the ``Task``
        # it would build, made directly: its Python-level wrapper is a good share of a
        # short turn's fixed cost (so is ``get_task_factory()``: that loop keeps the
        # factory in ``_task_factory``). Named, because a task without a name gets one
        # made with ``printf`` (Python 3.11), another good share.
        loop = self._loop or self.loop
        if self._stock_create_task and loop._task_factory is None:  # type: ignore[attr-defined]
            turn.task = asyncio.Task(self._run(slot, turn), loop=loop, name=_TASK_NAME)
        else:
            turn.task = loop.create_task(self._run(slot, turn), name=_TASK_NAME)

    def _end_unstarted(self, turn: Turn) -> None:
        turn.state = _DONE
        if turn.turn_id is not None:
            self.turns.pop(turn.turn_id, None)
        try:
            turn.fail("cancelled", "the turn was cancelled before it started", None)
        except BaseException as error:
            self.report("agent_host: ending a cancelled turn failed", error)

    async def _run(self, slot: AgentSlot, turn: Turn) -> None:
        """The turn's task: plays it, ends its handle, records it, then starts the next.

        The agent's generator is driven by the turn's pump, awaited right here (no other
        coroutine in between). Time limits are the host's: a turn that outruns its
        ``[plugins.python] call_timeout_ms`` is cancelled from outside, like any other.
        """
        kind: Optional[str] = None
        message = ""
        retry_after: Optional[float] = None
        cancelled = False
        turn.entered = True
        try:
            if turn.stopping:  # stopped before this task got to run
                raise asyncio.CancelledError
            agen = slot.chat(turn.content)
            if type(agen) is AsyncGeneratorType or hasattr(type(agen), "__anext__"):
                # Text goes from the generator to the sink inside the pump; only other
                # events come back here.
                try:
                    pump = turn.sink.pump(agen)
                except AttributeError:  # a sink with no native pump
                    pump = PythonPump(agen, turn)
                try:
                    while True:
                        item = await pump
                        if item is None:  # PUMP_END
                            break
                        if item is PUMP_OVER or not turn.event(item):
                            raise TurnOver
                except BaseException:
                    # Stopped early: close the generator (runs its ``finally``). One that
                    # ran out or raised is closed already, so the usual end skips this.
                    await _close_quietly(agen)
                    raise
            else:
                await self._whole_answer(slot, turn, agen)
        except (asyncio.CancelledError, TurnOver):
            cancelled = True
            task = turn.task
            if task is not None:
                while task.uncancel():  # this task goes on: it still has to end the turn
                    pass
        except BaseException as error:
            kind, message, retry_after = classify(error)
        turn.state = _FINISHING
        try:
            if kind is None and not cancelled and not turn.stopping:
                answer = turn.complete()
                if answer is not None:
                    # A turn that completed well changes the conversation; nothing else
                    # does. Recorded here rather than in a method: every turn pays for
                    # each call. A plain text message is kept as its str (see AgentSlot).
                    content = turn.content
                    history = slot.history
                    history.append(content.text if type(content) is Text else content)
                    if turn.tools_called:
                        # The calls and results, kept as the Rust side made them (a
                        # native ``ToolMessages``), between the message and the answer.
                        messages = turn.sink.tool_messages()
                        if messages:
                            history.append(messages)
                    history.append(answer)
                    slot.turn_count += 1
                    usage = turn.usage
                    if usage is None:
                        slot.last_usage = NO_USAGE
                    else:
                        slot.last_usage = usage
                        slot.total_usage = _add_usage(slot.total_usage, usage)
                    slot.last_response = answer
                else:
                    cancelled = True  # the handle went away as the turn ended
            elif kind is not None:
                turn.fail(kind, message, retry_after)
            else:
                cancelled = True
                turn.fail("cancelled", "the turn was cancelled", None)
        except BaseException as error:  # a sink that raises: end the turn with that
            try:
                turn.fail(*classify(error))
            except BaseException:
                self.report("agent_host: ending a turn failed", error)
        if cancelled:
            on_cancel = slot.hooks.get("on_cancel")
            if on_cancel is not None:
                await self._call_quietly(slot, "on_cancel", on_cancel)
        turn.state = _DONE
        if turn.turn_id is not None:
            self.turns.pop(turn.turn_id, None)
        slot.current = None
        if slot.shut_down:
            return
        if slot.queue:
            self._start(slot, slot.queue.popleft())
        if slot.idle_waiters:
            slot.refresh_idle()

    async def _whole_answer(self, slot: AgentSlot, turn: Turn, result: Any) -> None:
        """A ``chat`` that is a coroutine returning the whole answer as a ``str``."""
        if not inspect.isawaitable(result):
            raise AgentError(
                f"{type(slot.agent).__qualname__}.chat returned {type(result).__qualname__}; "
                "it must be an async generator (`async def chat` with `yield`) or a "
                "coroutine (`async def chat` returning a str)"
            )
        answer = await result
        if not isinstance(answer, str):
            raise AgentError(
                f"{type(slot.agent).__qualname__}.chat returned "
                f"{type(answer).__qualname__}; a coroutine chat must return the whole "
                "answer as a str"
            )
        if answer:
            if not turn.alive:
                raise TurnOver
            # The turn ends right after: the text rides along with its result (no flush).
            turn.pending.append(answer)

    async def _call_quietly(self, slot: AgentSlot, name: str, hook: Callable[[], Any]) -> None:
        """Runs a hook whose failure nobody is waiting for: failures are logged."""
        try:
            result = hook()
            if inspect.isawaitable(result):
                await result
        except asyncio.CancelledError:
            raise
        except BaseException as error:
            self.report(f"agent_host: agent {slot.id}: {name}() failed", error)


async def _close_quietly(agen: Any) -> None:
    """Closes an agent's generator that was left suspended (runs its ``finally``)."""
    aclose = getattr(agen, "aclose", None)
    if aclose is not None:
        try:
            await aclose()
        except Exception:
            pass  # the turn's own outcome matters more than cleanup noise


def _add_usage(total: UsageTuple, usage: UsageTuple) -> UsageTuple:
    """Adds counts like the Rust side: None + None stays None, else None counts as 0."""
    return tuple(  # type: ignore[return-value]
        None if a is None and b is None else min((a or 0) + (b or 0), _U32_MAX)
        for a, b in zip(total, usage)
    )


_U32_MAX = 2**32 - 1
