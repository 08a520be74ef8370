"""Answering calls about an agent's conversation (and ``disconnect``): from the agent's
hook when it defines one, else from the state the runtime keeps, with hook results
checked and put in the wire form the Rust side decodes.
"""

from __future__ import annotations

import inspect
from typing import Any, Awaitable, Callable, List, Optional, Tuple

from ._agent import NO_USAGE, AgentSlot
from ._base import RuntimeBase
from ._content import Message, to_parts
from ._events import AgentError, Usage, UsageTuple
from ._reply import ReplyLike
from ._stream import SinkLike

__all__ = ["Answers"]


class Answers(RuntimeBase):
    """The runtime's operations that answer from a hook or from its own state."""

    def _answer(
        self,
        slot: AgentSlot,
        name: str,
        reply: ReplyLike,
        convert: Callable[[Any], Any],
        own: Callable[[AgentSlot], Any],
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
        self._answer(
            self.agents[agent_id], "history", reply, _history_parts, _own_history_parts
        )

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
        self._answer(
            self.agents[agent_id],
            "last_response",
            reply,
            _optional_str,
            lambda s: s.last_response,
        )

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
        if slot.saved is not None:
            # On disk first: a clear that fails there changes nothing.
            try:
                slot.saved.clear()
            except OSError as error:  # its message says which file and why
                reply.err("backend", str(error))
                return
        # The runtime's own copy is cleared too, whoever else keeps a history.
        slot.history = []
        slot.turn_count = 0
        slot.last_response = None
        slot.compaction_indices = []
        self._answer(slot, "clear_history", reply, _none, lambda s: None)

    def disconnect(
        self, agent_id: int, arg: Any, reply: ReplyLike, sink: Optional[SinkLike]
    ) -> None:
        self._answer(self.agents[agent_id], "disconnect", reply, _none, lambda slot: None)


# -- hook results in the wire form ----------------------------------------------------


def _none(value: Any) -> None:
    return None


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise AgentError(f"turn_count() must return a non-negative int, got {value!r}")
    return value


def _usage(value: Any) -> UsageTuple:
    if value is None:
        return NO_USAGE
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


def _own_history_parts(slot: AgentSlot) -> List[Any]:
    """The runtime's history in the wire form: per turn the user message, the turn's
    tool messages if it called host tools (the native ``ToolMessages``, passed as it is),
    then the model's answer (always a ``str``)."""
    out: List[Any] = []
    history = slot.history
    index, end = 0, len(history)
    while index < end:
        out.append(("user", to_parts(history[index])))  # to_parts takes a str as Text
        answer = history[index + 1]
        index += 2
        if type(answer) is not str:  # the turn's tool messages
            out.append(answer)
            answer = history[index]
            index += 1
        out.append(("model", [("text", answer)]))
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
