"""Idleness and wakeups: ``signal_idle``, ``wait_for_idle``, ``is_idle`` and
``wait_for_wakeup``. An agent is idle when it has no turn running or queued, or once
``signal_idle`` said so until its next turn starts; a message ``send`` queues wakes the
oldest ``wait_for_wakeup``, or the next one to come.
"""

from __future__ import annotations

from typing import Any, Optional

from ._agent import AgentSlot, WakeupWaiter
from ._base import RuntimeBase
from ._reply import ReplyLike
from ._stream import SinkLike

__all__ = ["Idleness"]


class Idleness(RuntimeBase):
    """The runtime's idleness and wakeup operations."""

    def signal_idle(
        self, agent_id: int, arg: Any, reply: ReplyLike, sink: Optional[SinkLike]
    ) -> None:
        slot = self.agents[agent_id]
        slot.signalled_idle = True
        slot.refresh_idle()
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
        waiter = WakeupWaiter(reply)
        if timeout is not None and timeout != float("inf"):
            waiter.timer = self.loop.call_later(timeout, self._wakeup_expired, slot, waiter)
        slot.wakeup_waiters.append(waiter)

    @staticmethod
    def _wakeup_expired(slot: AgentSlot, waiter: WakeupWaiter) -> None:
        try:
            slot.wakeup_waiters.remove(waiter)
        except ValueError:
            return  # already answered
        waiter.reply.ok(False)
