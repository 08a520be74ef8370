"""One agent's slot: the agent object and the optional hooks it defines, its queue of
turns, the conversation state the host keeps for it, and the calls waiting on it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING, Any, Callable, Deque, Dict, List, Optional

from ._content import Content, from_parts
from ._events import UsageTuple
from ._reply import ReplyLike
from ._tools import Tools

if TYPE_CHECKING:
    from ._turns import Turn

__all__ = ["AgentSlot", "HOOKS", "NO_USAGE", "WakeupWaiter"]


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

NO_USAGE: UsageTuple = (None, None, None, None, None)
"""The counts of a turn that reported no usage."""


class WakeupWaiter:
    """A pending ``wait_for_wakeup``: its reply and the timer that ends it with False."""

    __slots__ = ("reply", "timer")

    def __init__(self, reply: ReplyLike) -> None:
        self.reply = reply
        self.timer: Optional[asyncio.TimerHandle] = None


class AgentSlot:
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
        "tools",
        "saved",
    )

    def __init__(self, agent_id: int, agent: Any, tools: Optional[Tools] = None) -> None:
        self.id = agent_id
        # The host's tools, as the agent calls them (its config's ``host_tools``).
        self.tools = tools
        self.agent = agent
        self.chat: Callable[[Content], Any] = agent.chat
        self.hooks: Dict[str, Callable[[], Any]] = {}
        for name in HOOKS:
            hook = getattr(agent, name, None)
            if callable(hook):
                self.hooks[name] = hook
        self.queue: Deque[Turn] = deque()
        self.current: Optional[Turn] = None
        # Per completed turn, its user content then its model answer (a str); a plain
        # text message is kept as its str. So recording a turn allocates nothing and
        # keeps no object the garbage collector must track (a history of Text objects
        # made every full collection slower); the wire form is built only when read.
        self.history: List[Any] = []
        self.turn_count = 0
        # Kept as tuples: adding per turn must stay cheap (no dataclass validation).
        self.total_usage: UsageTuple = NO_USAGE
        self.last_usage: UsageTuple = NO_USAGE
        self.last_response: Optional[str] = None
        self.compaction_indices: List[int] = []
        self.turns_started = 0
        self.signalled_idle = False
        self.idle_waiters: List[ReplyLike] = []
        self.wakeup_pending = False
        self.wakeup_waiters: Deque[WakeupWaiter] = deque()
        self.shut_down = False
        # The conversation's file (the native ``SavedFile``) when the agent has a
        # ``save_dir``: the Rust side appends each completed turn to it as the turn ends,
        # and ``clear_history`` clears it before the state here.
        self.saved: Any = None

    def resume(
        self,
        saved: Any,
        turns: List[Any],
        total_usage: UsageTuple,
        last_usage: UsageTuple,
        compaction_indices: List[int],
    ) -> None:
        """Takes up a saved conversation: ``turns`` as ``(user, tool_messages, answer)``,
        ``user`` a ``str`` for a plain text message, else its wire parts."""
        self.saved = saved
        history = self.history
        for user, tool_messages, answer in turns:
            history.append(user if type(user) is str else from_parts(user))
            if tool_messages is not None:
                history.append(tool_messages)
            history.append(answer)
        self.turn_count = len(turns)
        self.total_usage = tuple(total_usage)  # type: ignore[assignment]
        self.last_usage = tuple(last_usage)  # type: ignore[assignment]
        self.last_response = turns[-1][2] if turns else None
        self.compaction_indices = list(compaction_indices)

    def is_idle(self) -> bool:
        return self.shut_down or self.signalled_idle or (self.current is None and not self.queue)

    def refresh_idle(self) -> None:
        """Answers the pending ``wait_for_idle`` calls once the agent is idle."""
        if self.idle_waiters and self.is_idle():
            waiters, self.idle_waiters = self.idle_waiters, []
            for reply in waiters:
                reply.ok(None)

    def wake(self) -> None:
        """A message arrived: the oldest waiter reports it, else it stays pending."""
        if self.wakeup_waiters:
            waiter = self.wakeup_waiters.popleft()
            if waiter.timer is not None:
                waiter.timer.cancel()
            waiter.reply.ok(True)
        else:
            self.wakeup_pending = True
