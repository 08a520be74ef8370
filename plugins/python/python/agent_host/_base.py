"""What the parts of a runtime share: its agents and turns, the event loop, background
tasks, and errors nobody waits for. ``Runtime`` (``_runtime.py``) is this base plus its
parts (turns, idleness and wakeups, answers), each a class of its own file; every part
runs on the loop's thread and never blocks.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Dict, Optional

from ._agent import AgentSlot
from ._config import AgentConfig
from ._reply import ReplyLike, classify
from ._stream import Flusher, flusher_for

if TYPE_CHECKING:
    from ._turns import Turn

__all__ = ["RuntimeBase"]

_STOCK_CREATE_TASK = asyncio.BaseEventLoop.create_task


class RuntimeBase:
    """All agents of one bridge, and the plumbing every part of the runtime uses.

    Operation methods (in the parts) take ``(agent_id, arg, reply, sink)`` like
    ``Bridge.submit`` and may raise only for programming errors, which the bridge turns
    into a backend error.
    """

    def __init__(self, agent_class: Callable[[AgentConfig], Any]) -> None:
        self.agent_class = agent_class
        # Which agents exist is the Rust side's to say (``PythonRuntime::live``): it
        # refuses calls on any other id before they are submitted, in the order the set
        # changes, so an operation here finds its agent (``try_shutdown`` and
        # ``cancel_turn`` excepted, see them). This holds the agents' state only.
        self.agents: Dict[int, AgentSlot] = {}
        self.turns: Dict[int, Turn] = {}
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        # The loop's create_task is asyncio's own (see ``TurnQueue._begin``).
        self._stock_create_task = False
        self._flusher: Optional[Flusher] = None
        # Strong references to background tasks (asyncio keeps only weak ones).
        self._tasks: set[asyncio.Task[Any]] = set()

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
