"""Per-agent machinery on one asyncio loop: the semantics of ``docs/semantics.md``.

Every agent has a FIFO of turns played one at a time (``_turns``), plus the
conversation state the host promises (history, counts, usage) unless the agent keeps
its own through hooks (``_agent``, ``_answers``), and idleness and wakeups
(``_idle``). Everything runs on the loop's thread and never blocks: state changes are
synchronous, and answers go out through ``Reply`` objects as soon as they are known.
This module puts the parts together and holds the agents' lifecycle.
"""

from __future__ import annotations

import asyncio
import inspect
from collections import deque
from typing import Any, Callable, List, Optional

from ._agent import AgentSlot
from ._answers import Answers
from ._config import AgentConfig
from ._events import InvalidConfig
from ._idle import Idleness
from ._reply import ReplyLike
from ._stream import SinkLike
from ._tools import Tools
from ._turns import Turn, TurnQueue

__all__ = ["Runtime"]


class Runtime(TurnQueue, Idleness, Answers):
    """All agents of one bridge: creating and shutting them down; the other operations
    come from the parts (see ``RuntimeBase`` for the calling convention)."""

    def create_agent(
        self, agent_id: int, arg: Any, reply: ReplyLike, sink: Optional[SinkLike]
    ) -> None:
        # The config's JSON, the names of the host's tools offered and the saved
        # conversation read back, if any (a bare JSON: none of those).
        if isinstance(arg, tuple):
            config_json, tool_names, saved = (arg + (None,))[:3]
        else:
            config_json, tool_names, saved = arg, (), None
        try:
            config = AgentConfig.from_json(config_json)
            tools = config.host_tools = Tools(tool_names, config.tools)
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
        slot = self.agents[agent_id] = AgentSlot(agent_id, agent, tools)
        if saved is not None:
            slot.resume(*saved)
        tools._bind(slot)
        reply.ok(None)

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

    def _shut_down(self, slot: AgentSlot, reply: Optional[ReplyLike], delete: bool) -> None:
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
        slot: AgentSlot,
        running: Optional[Turn],
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
