"""Per-agent machinery on one asyncio loop: the semantics of ``docs/semantics.md``.

Every agent has a FIFO of turns played one at a time, each in its own asyncio task (a
task per turn makes "cancel the running turn" a plain ``Task.cancel``), plus the
conversation state the host promises (history, counts, usage) unless the agent keeps
its own through hooks. Everything here runs on the loop's thread and never blocks:
state changes are synchronous, and answers go out through ``Reply`` objects as soon as
they are known.
"""

from __future__ import annotations

import asyncio
import inspect
import traceback
from collections import deque
from types import AsyncGeneratorType
from typing import (
    Any,
    Awaitable,
    Callable,
    Deque,
    Dict,
    List,
    Optional,
    Protocol,
    Tuple,
)

from ._config import AgentConfig
from ._content import (
    Content,
    Message,
    Text,
    _object_new,
    _set_text,
    from_parts,
    to_parts,
)
from ._events import AgentError, InvalidConfig, QuotaExceeded, Usage, UsageTuple
from ._stream import (
    PUMP_OVER,
    Flusher,
    PythonPump,
    SinkLike,
    TurnOver,
    TurnWriter,
    flusher_for,
)

__all__ = ["Runtime", "ReplyLike", "classify", "HOOKS"]


class ReplyLike(Protocol):
    """The Rust ``agent_host._native.Reply`` API: answered exactly once."""

    def ok(self, value: object) -> None: ...
    def err(self, kind: str, message: str, retry_after: Optional[float] = None) -> None: ...


HOOKS = (
    "history",
    "turn_count",
    "total_usage",
    "last_turn_usage",
    "clear_history",
    "last_response",
    "compaction_indices",
    "on_cancel",
    "shutdown",
    "delete",
    "disconnect",
)
"""Optional agent methods the runtime uses when the agent defines them."""

_NO_USAGE: UsageTuple = (None, None, None, None, None)

_STOCK_CREATE_TASK = asyncio.BaseEventLoop.create_task
_TASK_NAME = "agent_host turn"
"""The name of every turn's asyncio task."""

# Turn states.
_QUEUED = 0
_RUNNING = 1
_FINISHING = 2  # the outcome is decided; a cancel can no longer change it
_DONE = 3


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


class _Turn(TurnWriter):
    """One queued or running turn of one agent; it is also the writer of its output
    (one object per turn instead of two)."""

    __slots__ = ("turn_id", "content", "task", "state", "stopping", "entered")

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


class _WakeupWaiter:
    """A pending ``wait_for_wakeup``: its reply and the timer that ends it with False."""

    __slots__ = ("reply", "timer")

    def __init__(self, reply: ReplyLike) -> None:
        self.reply = reply
        self.timer: Optional[asyncio.TimerHandle] = None


class _Agent:
    """One live agent: the object, its queue and its conversation state."""

    __slots__ = (
        "id",
        "agent",
        "chat",
        "hooks",
        "queue",
        "current",
        "history",
        "turn_count",
        "total_usage",
        "last_usage",
        "last_response",
        "compaction_indices",
        "turns_started",
        "signalled_idle",
        "idle_waiters",
        "wakeup_pending",
        "wakeup_waiters",
        "shut_down",
    )

    def __init__(self, agent_id: int, agent: Any) -> None:
        self.id = agent_id
        self.agent = agent
        self.chat: Callable[[Content], Any] = agent.chat
        self.hooks: Dict[str, Callable[[], Any]] = {}
        for name in HOOKS:
            hook = getattr(agent, name, None)
            if callable(hook):
                self.hooks[name] = hook
        self.queue: Deque[_Turn] = deque()
        self.current: Optional[_Turn] = None
        # Per completed turn, its user content then its model answer (a str); a plain
        # text message is kept as its str. So recording a turn allocates nothing and
        # keeps no object the garbage collector must track (a history of Text objects
        # made every full collection slower); the wire form is built only when read.
        self.history: List[Any] = []
        self.turn_count = 0
        # Kept as tuples: adding per turn must stay cheap (no dataclass validation).
        self.total_usage: UsageTuple = _NO_USAGE
        self.last_usage: UsageTuple = _NO_USAGE
        self.last_response: Optional[str] = None
        self.compaction_indices: List[int] = []
        self.turns_started = 0
        self.signalled_idle = False
        self.idle_waiters: List[ReplyLike] = []
        self.wakeup_pending = False
        self.wakeup_waiters: Deque[_WakeupWaiter] = deque()
        self.shut_down = False

    def is_idle(self) -> bool:
        return self.shut_down or self.signalled_idle or (self.current is None and not self.queue)


class Runtime:
    """All agents of one bridge; every method runs on the loop thread and never blocks.

    Operation methods take ``(agent_id, arg, reply, sink)`` like ``Bridge.submit`` and
    may raise only for programming errors, which the bridge turns into a backend error.
    """

    def __init__(self, agent_class: Callable[[AgentConfig], Any]) -> None:
        self.agent_class = agent_class
        # Which agents exist is the Rust side's to say (``PythonRuntime::live``): it
        # refuses calls on any other id before they are submitted, in the order the set
        # changes, so an operation here finds its agent (``try_shutdown`` and
        # ``cancel_turn`` excepted, see them). This holds the agents' state only.
        self.agents: Dict[int, _Agent] = {}
        self.turns: Dict[int, _Turn] = {}
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        # The loop's create_task is asyncio's own (see ``_begin``).
        self._stock_create_task = False
        self._flusher: Optional[Flusher] = None
        # Strong references to background tasks (asyncio keeps only weak ones).
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- plumbing ---------------------------------------------------------------------

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
            self._stock_create_task = type(loop).create_task is _STOCK_CREATE_TASK
        return loop

    @property
    def flusher(self) -> Flusher:
        flusher = self._flusher
        if flusher is None:
            flusher = self._flusher = flusher_for(self.loop)
        return flusher

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = self.loop.create_task(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def report(self, message: str, error: Optional[BaseException] = None) -> None:
        """An error nobody waits for goes to the loop's exception handler (a log line)."""
        context: Dict[str, Any] = {"message": message}
        if error is not None:
            context["exception"] = error
        self.loop.call_exception_handler(context)

    @staticmethod
    def not_started(agent_id: int) -> str:
        return f"agent {agent_id} is not started"

    def _fail_reply(self, reply: Optional[ReplyLike], error: BaseException) -> None:
        kind, message, retry_after = classify(error)
        if reply is not None:
            reply.err(kind, message, retry_after)
        else:
            self.report(f"agent_host: {message}", error)

    # -- agents -----------------------------------------------------------------------

    def create_agent(
        self, agent_id: int, arg: Any, reply: ReplyLike, sink: Optional[SinkLike]
    ) -> None:
        try:
            config = AgentConfig.from_json(arg)
            agent = self.agent_class(config)
        except (InvalidConfig, ValueError) as error:
            message = error.message if isinstance(error, InvalidConfig) else str(error)
            reply.err("invalid_config", message or type(error).__name__)
            return
        except BaseException as error:
            self._fail_reply(reply, error)
            return
        if not callable(getattr(agent, "chat", None)):
            reply.err(
                "invalid_config",
                f"{type(agent).__qualname__} has no chat method: an agent needs "
                "`async def chat(self, content)`",
            )
            return
        self.agents[agent_id] = _Agent(agent_id, agent)
        reply.ok(None)

    # -- turns ------------------------------------------------------------------------

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
        turn = _Turn(turn_id, message, sink, self._flusher or self.flusher)
        self.turns[turn_id] = turn
        if slot.current is None and not slot.queue:
            # Just submitted: a handle dropped meanwhile stops it at its first write.
            self._begin(slot, turn)
        else:
            slot.queue.append(turn)

    def send(
        self, agent_id: int, arg: Any, reply: ReplyLike, sink: Optional[SinkLike]
    ) -> None:
        slot = self.agents[agent_id]
        turn = _Turn(None, from_parts(arg), None, self.flusher)
        if slot.current is None and not slot.queue:
            self._start(slot, turn)
        else:
            slot.queue.append(turn)
        self._wake(slot)
        reply.ok(None)

    def _start(self, slot: _Agent, turn: Optional[_Turn]) -> None:
        """Starts ``turn`` (or the next queued one), skipping turns dropped while queued."""
        while turn is not None:
            if turn.sink.cancelled:
                self._end_unstarted(turn)
                turn = slot.queue.popleft() if slot.queue else None
                continue
            self._begin(slot, turn)
            return

    def _begin(self, slot: _Agent, turn: _Turn) -> None:
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

    def _end_unstarted(self, turn: _Turn) -> None:
        turn.state = _DONE
        if turn.turn_id is not None:
            self.turns.pop(turn.turn_id, None)
        try:
            turn.fail("cancelled", "the turn was cancelled before it started", None)
        except BaseException as error:
            self.report("agent_host: ending a cancelled turn failed", error)

    async def _run(self, slot: _Agent, turn: _Turn) -> None:
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
                    # each call. A plain text message is kept as its str (see _Agent).
                    content = turn.content
                    history = slot.history
                    history.append(content.text if type(content) is Text else content)
                    history.append(answer)
                    slot.turn_count += 1
                    usage = turn.usage
                    if usage is None:
                        slot.last_usage = _NO_USAGE
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
            self._refresh_idle(slot)

    async def _whole_answer(self, slot: _Agent, turn: _Turn, result: Any) -> None:
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

    async def _call_quietly(self, slot: _Agent, name: str, hook: Callable[[], Any]) -> None:
        """Runs a hook whose failure nobody is waiting for: failures are logged."""
        try:
            result = hook()
            if inspect.isawaitable(result):
                await result
        except asyncio.CancelledError:
            raise
        except BaseException as error:
            self.report(f"agent_host: agent {slot.id}: {name}() failed", error)

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
                self._refresh_idle(slot)
            else:
                turn.stop()
        if reply is not None:
            reply.ok(None)

    # -- idleness and wakeups ---------------------------------------------------------

    def _refresh_idle(self, slot: _Agent) -> None:
        if slot.idle_waiters and slot.is_idle():
            waiters, slot.idle_waiters = slot.idle_waiters, []
            for reply in waiters:
                reply.ok(None)

    def _wake(self, slot: _Agent) -> None:
        """A message arrived: the oldest waiter reports it, else it stays pending."""
        if slot.wakeup_waiters:
            waiter = slot.wakeup_waiters.popleft()
            if waiter.timer is not None:
                waiter.timer.cancel()
            waiter.reply.ok(True)
        else:
            slot.wakeup_pending = True

    def signal_idle(
        self, agent_id: int, arg: Any, reply: ReplyLike, sink: Optional[SinkLike]
    ) -> None:
        slot = self.agents[agent_id]
        slot.signalled_idle = True
        self._refresh_idle(slot)
        reply.ok(None)

    def wait_for_idle(
        self, agent_id: int, arg: Any, reply: ReplyLike, sink: Optional[SinkLike]
    ) -> None:
        slot = self.agents[agent_id]
        if slot.is_idle():
            reply.ok(None)
        else:
            slot.idle_waiters.append(reply)

    def is_idle(self, agent_id: int, arg: Any, reply: ReplyLike, sink: Optional[SinkLike]) -> None:
        reply.ok(self.agents[agent_id].is_idle())

    def wait_for_wakeup(
        self, agent_id: int, arg: Any, reply: ReplyLike, sink: Optional[SinkLike]
    ) -> None:
        slot = self.agents[agent_id]
        if slot.wakeup_pending:
            slot.wakeup_pending = False
            reply.ok(True)
            return
        timeout = None if arg is None else float(arg)
        if timeout is not None and not timeout > 0.0:
            reply.ok(False)
            return
        waiter = _WakeupWaiter(reply)
        if timeout is not None and timeout != float("inf"):
            waiter.timer = self.loop.call_later(timeout, self._wakeup_expired, slot, waiter)
        slot.wakeup_waiters.append(waiter)

    @staticmethod
    def _wakeup_expired(slot: _Agent, waiter: _WakeupWaiter) -> None:
        try:
            slot.wakeup_waiters.remove(waiter)
        except ValueError:
            return  # already answered
        waiter.reply.ok(False)

    # -- shutdown ---------------------------------------------------------------------

    def shutdown(
        self, agent_id: int, arg: Any, reply: ReplyLike, sink: Optional[SinkLike]
    ) -> None:
        self._shut_down(self.agents.pop(agent_id), reply, delete=False)

    def delete(self, agent_id: int, arg: Any, reply: ReplyLike, sink: Optional[SinkLike]) -> None:
        self._shut_down(self.agents.pop(agent_id), reply, delete=True)

    def try_shutdown(
        self, agent_id: int, arg: Any, reply: Optional[ReplyLike], sink: Optional[SinkLike]
    ) -> None:
        """``shutdown`` with nobody waiting. It also follows a ``create_agent`` whose
        caller stopped waiting, which may have failed: no agent, nothing to do."""
        slot = self.agents.pop(agent_id, None)
        if slot is not None:
            self._shut_down(slot, None, delete=False)

    def _shut_down(self, slot: _Agent, reply: Optional[ReplyLike], delete: bool) -> None:
        """Ends the turns of an agent already forgotten (``agents`` no longer holds it),
        and answers its pending waits with not_started."""
        agent_id = slot.id
        slot.shut_down = True
        queued, slot.queue = slot.queue, deque()
        for turn in queued:
            self._end_unstarted(turn)
        gone = self.not_started(agent_id)
        idle_waiters, slot.idle_waiters = slot.idle_waiters, []
        for waiter_reply in idle_waiters:
            waiter_reply.err("not_started", gone)
        wakeup_waiters, slot.wakeup_waiters = slot.wakeup_waiters, deque()
        for waiter in wakeup_waiters:
            if waiter.timer is not None:
                waiter.timer.cancel()
            waiter.reply.err("not_started", gone)
        running = slot.current
        if running is not None:
            running.stop()
        names = ("shutdown", "delete") if delete else ("shutdown",)
        hooks = [slot.hooks[name] for name in names if name in slot.hooks]
        if (running is None or running.task is None) and not hooks:
            if reply is not None:
                reply.ok(None)
            return
        self._spawn(self._finish_shutdown(slot, running, hooks, reply))

    async def _finish_shutdown(
        self,
        slot: _Agent,
        running: Optional[_Turn],
        hooks: List[Callable[[], Any]],
        reply: Optional[ReplyLike],
    ) -> None:
        try:
            if running is not None and running.task is not None:
                await asyncio.wait((running.task,))
            for hook in hooks:
                result = hook()
                if inspect.isawaitable(result):
                    await result
        except BaseException as error:
            self._fail_reply(reply, error)
            return
        if reply is not None:
            reply.ok(None)

    def disconnect(
        self, agent_id: int, arg: Any, reply: ReplyLike, sink: Optional[SinkLike]
    ) -> None:
        self._answer(self.agents[agent_id], "disconnect", reply, _none, lambda slot: None)

    # -- conversation state -----------------------------------------------------------

    def _answer(
        self,
        slot: _Agent,
        name: str,
        reply: ReplyLike,
        convert: Callable[[Any], Any],
        own: Callable[[_Agent], Any],
    ) -> None:
        """Answers from the agent's hook when it has one, else from the runtime's state."""
        hook = slot.hooks.get(name)
        if hook is None:
            reply.ok(own(slot))
            return
        try:
            result = hook()
            if inspect.isawaitable(result):
                self._spawn(self._answer_later(reply, result, convert))
                return
            value = convert(result)
        except BaseException as error:
            self._fail_reply(reply, error)
            return
        reply.ok(value)

    async def _answer_later(
        self, reply: ReplyLike, result: Awaitable[Any], convert: Callable[[Any], Any]
    ) -> None:
        try:
            value = convert(await result)
        except BaseException as error:
            self._fail_reply(reply, error)
            return
        reply.ok(value)

    def history(self, agent_id: int, arg: Any, reply: ReplyLike, sink: Optional[SinkLike]) -> None:
        self._answer(self.agents[agent_id], "history", reply, _history_parts, _own_history_parts)

    def turn_count(
        self, agent_id: int, arg: Any, reply: ReplyLike, sink: Optional[SinkLike]
    ) -> None:
        self._answer(self.agents[agent_id], "turn_count", reply, _count, lambda s: s.turn_count)

    def total_usage(
        self, agent_id: int, arg: Any, reply: ReplyLike, sink: Optional[SinkLike]
    ) -> None:
        self._answer(self.agents[agent_id], "total_usage", reply, _usage, lambda s: s.total_usage)

    def last_turn_usage(
        self, agent_id: int, arg: Any, reply: ReplyLike, sink: Optional[SinkLike]
    ) -> None:
        self._answer(
            self.agents[agent_id], "last_turn_usage", reply, _usage, lambda s: s.last_usage
        )

    def last_response(
        self, agent_id: int, arg: Any, reply: ReplyLike, sink: Optional[SinkLike]
    ) -> None:
        self._answer(self.agents[agent_id], "last_response", reply, _optional_str, lambda s: s.last_response)

    def compaction_indices(
        self, agent_id: int, arg: Any, reply: ReplyLike, sink: Optional[SinkLike]
    ) -> None:
        self._answer(
            self.agents[agent_id],
            "compaction_indices",
            reply,
            _indices,
            lambda s: list(s.compaction_indices),
        )

    def clear_history(
        self, agent_id: int, arg: Any, reply: ReplyLike, sink: Optional[SinkLike]
    ) -> None:
        slot = self.agents[agent_id]
        # The runtime's own copy is cleared too, whoever else keeps a history.
        slot.history = []
        slot.turn_count = 0
        slot.last_response = None
        slot.compaction_indices = []
        self._answer(slot, "clear_history", reply, _none, lambda s: None)


async def _close_quietly(agen: Any) -> None:
    """Closes an agent's generator that was left suspended (runs its ``finally``)."""
    aclose = getattr(agen, "aclose", None)
    if aclose is not None:
        try:
            await aclose()
        except Exception:
            pass  # the turn's own outcome matters more than cleanup noise


# -- converting hook results to the wire form --------------------------------------------


def _add_usage(total: UsageTuple, usage: UsageTuple) -> UsageTuple:
    """Adds counts like the Rust side: None + None stays None, else None counts as 0."""
    return tuple(  # type: ignore[return-value]
        None if a is None and b is None else min((a or 0) + (b or 0), _U32_MAX)
        for a, b in zip(total, usage)
    )


_U32_MAX = 2**32 - 1


def _none(value: Any) -> None:
    return None


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise AgentError(f"turn_count() must return a non-negative int, got {value!r}")
    return value


def _usage(value: Any) -> UsageTuple:
    if value is None:
        return _NO_USAGE
    if isinstance(value, Usage):
        return value.as_tuple()
    return Usage(*value).as_tuple()


def _optional_str(value: Any) -> Optional[str]:
    if value is not None and not isinstance(value, str):
        raise AgentError(f"last_response() must return a str or None, got {value!r}")
    return value


def _indices(value: Any) -> List[int]:
    indices = list(value)
    for index in indices:
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise AgentError(
                f"compaction_indices() must return non-negative ints, got {index!r}"
            )
    return indices


def _own_history_parts(slot: _Agent) -> List[Tuple[str, list]]:
    """The runtime's history in the wire form: user then model message per turn."""
    out: List[Tuple[str, list]] = []
    history = slot.history
    for index in range(0, len(history), 2):
        out.append(("user", to_parts(history[index])))  # to_parts takes a str as Text
        out.append(("model", [("text", history[index + 1])]))
    return out


def _history_parts(messages: Any) -> List[Tuple[str, list]]:
    out: List[Tuple[str, list]] = []
    for message in messages:
        if isinstance(message, Message):
            role, content = message.role, message.content
        else:
            role, content = message
        out.append((str(role), to_parts(content)))
    return out
