"""The entry point the Rust plugin calls: loads the agent class, then takes commands.

Rust constructs one ``Bridge`` on the interpreter's thread and, from the event loop's
reader callback, calls ``submit`` once per command in the order the application issued
them. ``submit`` never blocks and never raises: it changes state synchronously and
schedules whatever has to wait as asyncio tasks, answering through the ``Reply`` or
``TurnSink`` Rust passed along (see the ``agent_host._native`` objects).

An operation crosses as its code in ``agent_host._native.Op``, the enum the Rust side
defines (``src/op.rs``): this module names operations only through it.
"""

from __future__ import annotations

import importlib
import traceback
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

from ._events import InvalidConfig
from ._native import Op
from ._reply import ReplyLike, describe
from ._runtime import Runtime
from ._stream import SinkLike

__all__ = ["Bridge", "DEFAULT_AGENT", "load_agent_class", "op_name"]

DEFAULT_AGENT = "agent_host.reference:ReferenceAgent"
"""The agent used when the plugin's ``agent`` option is not set."""

_Handler = Callable[[int, Any, Optional[ReplyLike], Optional[SinkLike]], None]


def load_agent_class(spec: str) -> Callable[..., Any]:
    """Resolves ``"module:attr"`` (``attr`` may be dotted) to a callable.

    Every failure is ``InvalidConfig`` with a message that names the spec, and for an
    import that raised (missing module, syntax error, error at import time) the full
    traceback, because that is the only place the author will see it.
    """
    if not isinstance(spec, str) or spec.count(":") != 1:
        raise InvalidConfig(
            f"agent = {spec!r}: expected \"module:attr\", e.g. \"my_agents:EchoAgent\""
        )
    module_name, _, attr_path = spec.partition(":")
    module_name, attr_path = module_name.strip(), attr_path.strip()
    if not module_name or not attr_path:
        raise InvalidConfig(
            f"agent = {spec!r}: expected \"module:attr\", e.g. \"my_agents:EchoAgent\""
        )
    try:
        module = importlib.import_module(module_name)
    except BaseException as error:
        if isinstance(error, ModuleNotFoundError) and error.name == module_name:
            problem = f"no module named {module_name!r} (is it on python_path or in the venv?)"
        elif isinstance(error, SyntaxError):
            problem = f"module {module_name!r} has a syntax error"
        else:
            problem = f"importing module {module_name!r} failed"
        raise InvalidConfig(f"agent = {spec!r}: {problem}:\n{describe(error)}") from None
    target: Any = module
    walked = module_name
    for part in attr_path.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise InvalidConfig(
                f"agent = {spec!r}: {walked!r} has no attribute {part!r}"
            ) from None
        except BaseException as error:  # a property or module __getattr__ that raised
            raise InvalidConfig(
                f"agent = {spec!r}: reading {part!r} of {walked!r} failed:\n{describe(error)}"
            ) from None
        walked = f"{walked}.{part}"
    if not callable(target):
        raise InvalidConfig(
            f"agent = {spec!r}: {walked} is a {type(target).__name__}, not a class or "
            "callable that builds an agent from an AgentConfig"
        )
    if isinstance(target, type) and not callable(getattr(target, "chat", None)):
        raise InvalidConfig(
            f"agent = {spec!r}: class {walked} has no chat method; an agent needs "
            "`async def chat(self, content)`"
        )
    return target


class Bridge:
    """One per plugin runtime: the agent class and every agent built from it.

    ``options``: ``"agent"`` (``"module:attr"`` or ``None`` for the reference agent).
    Time limits are the host's (``[plugins.python] call_timeout_ms``), not the bridge's.
    """

    def __init__(self, options: Optional[Mapping[str, Any]] = None) -> None:
        options = dict(options or {})
        spec = options.get("agent") or DEFAULT_AGENT
        self.agent_spec: str = spec
        self.agent_class = load_agent_class(spec)
        self.runtime = Runtime(self.agent_class)
        self._handlers = _handlers(self.runtime)

    def submit(
        self,
        op: int,
        agent_id: int,
        arg: object,
        reply: Optional[ReplyLike],
        sink: Optional[SinkLike],
    ) -> None:
        """Runs one command (``op``, an ``Op`` code); never blocks, never raises (errors
        go to reply or sink)."""
        try:
            self._handlers[op](agent_id, arg, reply, sink)
        except BaseException as error:
            self._failed(op, error, reply, sink)

    def _failed(
        self,
        op: int,
        error: BaseException,
        reply: Optional[ReplyLike],
        sink: Optional[SinkLike],
    ) -> None:
        """A command blew up in the bridge itself: answer with the traceback."""
        try:
            message = f"agent_host: {op_name(op)} failed: {describe(error)}"
            if reply is not None:
                reply.err("backend", message)
            if sink is not None:
                sink.fail("backend", message, None)
            if reply is None and sink is None:
                self.runtime.report(message, error)
        except BaseException:
            # Nothing left to answer through; never let it reach the loop callback.
            traceback.print_exc()


def op_name(op: int) -> str:
    """``"create_agent"`` for ``Op.CREATE_AGENT``: the name the Rust side shows too."""
    try:
        return Op(op).name.lower()
    except ValueError:
        return f"operation {op!r}"


def _handlers(runtime: Runtime) -> Tuple[_Handler, ...]:
    """The runtime's method for each operation, indexed by its code: one tuple index per
    call. Refuses to build (``KeyError``) unless every operation has its method."""
    by_op: Dict[Op, _Handler] = {
        Op.CREATE_AGENT: runtime.create_agent,
        Op.CHAT: runtime.chat,  # type: ignore[dict-item]
        Op.CANCEL_TURN: runtime.cancel_turn,
        Op.SEND: runtime.send,  # type: ignore[dict-item]
        Op.CANCEL: runtime.cancel,  # type: ignore[dict-item]
        Op.SHUTDOWN: runtime.shutdown,
        Op.DELETE: runtime.delete,
        Op.TRY_SHUTDOWN: runtime.try_shutdown,
        Op.DISCONNECT: runtime.disconnect,  # type: ignore[dict-item]
        Op.SIGNAL_IDLE: runtime.signal_idle,  # type: ignore[dict-item]
        Op.WAIT_FOR_IDLE: runtime.wait_for_idle,  # type: ignore[dict-item]
        Op.IS_IDLE: runtime.is_idle,  # type: ignore[dict-item]
        Op.WAIT_FOR_WAKEUP: runtime.wait_for_wakeup,  # type: ignore[dict-item]
        Op.HISTORY: runtime.history,  # type: ignore[dict-item]
        Op.TURN_COUNT: runtime.turn_count,  # type: ignore[dict-item]
        Op.TOTAL_USAGE: runtime.total_usage,  # type: ignore[dict-item]
        Op.LAST_TURN_USAGE: runtime.last_turn_usage,  # type: ignore[dict-item]
        Op.CLEAR_HISTORY: runtime.clear_history,  # type: ignore[dict-item]
        Op.LAST_RESPONSE: runtime.last_response,  # type: ignore[dict-item]
        Op.COMPACTION_INDICES: runtime.compaction_indices,  # type: ignore[dict-item]
        Op.TOOL_DONE: runtime.tool_done,
    }
    # ``Op`` lists its members in code order, from 0 (the Rust side checks that).
    return tuple(by_op[op] for op in Op)
