"""The host's tools as an agent calls them: ``await config.host_tools.call(name, ...)``.

The handlers live in the application (Rust); this object only starts a call through the
running turn's sink and awaits its answer. The Rust side streams the call's ``ToolCall``
and ``ToolResult`` events, runs the handler on a tokio runtime (never on this loop's
thread), records the call in the turn's history, and hands the answer back to the loop
as an ``Op.TOOL_DONE`` command, which completes the future ``call`` awaits.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any, Dict, Iterable, Iterator, Mapping, Optional, Tuple

from ._events import ToolError

if TYPE_CHECKING:
    from ._agent import AgentSlot
    from ._config import Tool

__all__ = ["Tools"]


class Tools:
    """The application's tools offered to one agent (``AgentConfig.host_tools``).

    ``names`` are the tools the host has a handler for (each declared in
    ``config.tools``, whose entries give their descriptions and parameter schemas);
    ``name in tools`` asks the same. ``await tools.call("weather", city="Paris")`` (or
    ``tools.call("weather", {"city": "Paris"})``) runs one and returns its JSON result as
    Python values; a failure raises ``ToolError``. Calls may run at once
    (``asyncio.gather``), only from inside a chat turn of this agent.
    """

    __slots__ = ("_names", "_declared", "_slot", "_pending")

    def __init__(self, names: Iterable[str] = (), declarations: Iterable["Tool"] = ()) -> None:
        self._names: Tuple[str, ...] = tuple(names)
        self._declared: Dict[str, "Tool"] = {tool.name: tool for tool in declarations}
        self._slot: Optional["AgentSlot"] = None
        # The futures of running calls, by (turn id, call key).
        self._pending: Dict[Tuple[int, int], "asyncio.Future[Tuple[bool, Any]]"] = {}

    @property
    def names(self) -> Tuple[str, ...]:
        """The tools the host offers this agent, in name order."""
        return self._names

    def declaration(self, name: str) -> Optional["Tool"]:
        """The agent's declaration of tool ``name`` (description, parameter schema)."""
        return self._declared.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __repr__(self) -> str:
        return f"agent_host.Tools({list(self._names)!r})"

    async def call(
        self, name: str, arguments: Optional[Mapping[str, Any]] = None, /, **kwargs: Any
    ) -> Any:
        """Calls the host's tool ``name`` with ``arguments`` (a dict) or keyword
        arguments, which become its JSON object; returns the result. Raises
        ``ToolError`` when the tool fails, panics or does not exist, or the turn has
        ended; ``TypeError`` for arguments that are no JSON object."""
        if arguments is None:
            arguments = kwargs
        elif kwargs:
            raise TypeError("Tools.call takes a dict or keyword arguments, not both")
        if not isinstance(arguments, Mapping):
            raise TypeError(
                f"the arguments of tool {name!r} must be a dict, got {type(arguments).__name__}"
            )
        try:
            args_json = json.dumps(dict(arguments), ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise TypeError(f"the arguments of tool {name!r} are not JSON: {error}") from None
        slot = self._slot
        turn = slot.current if slot is not None else None
        call_tool = getattr(turn.sink, "call_tool", None) if turn is not None else None
        if turn is None or call_tool is None:
            raise ToolError(
                f"tool {name!r}: the host's tools can be called only during a chat turn",
                name,
            )
        turn.tools_called = True
        key = call_tool(name, args_json)
        if key is None:
            raise ToolError(f"tool {name!r}: the turn has ended", name)
        sink = turn.sink
        pending_key = (turn.turn_id, key)
        future: "asyncio.Future[Tuple[bool, Any]]" = asyncio.get_running_loop().create_future()
        self._pending[pending_key] = future
        try:
            ok, value = await future
        except asyncio.CancelledError:
            sink.abort_tool(key)  # the handler's future is dropped on the host
            raise
        finally:
            self._pending.pop(pending_key, None)
        if ok:
            return value
        raise ToolError(value, name)

    def _bind(self, slot: "AgentSlot") -> None:
        """Ties this object to its agent (whose running turn each call belongs to)."""
        self._slot = slot

    def _done(self, turn_id: int, key: int, ok: bool, value: Any) -> None:
        """A call's answer reached the loop (``Op.TOOL_DONE``)."""
        future = self._pending.get((turn_id, key))
        if future is not None and not future.done():
            future.set_result((ok, value))
