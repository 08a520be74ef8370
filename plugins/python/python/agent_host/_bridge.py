"""The entry point the Rust plugin calls: loads the agent class, then takes commands.

Rust constructs one ``Bridge`` on the interpreter's thread and, from the event loop's
reader callback, calls ``submit`` once per command in the order the application issued
them. ``submit`` never blocks and never raises: it changes state synchronously and
schedules whatever has to wait as asyncio tasks, answering through the ``Reply`` or
``TurnSink`` Rust passed along (see the ``agent_host._native`` objects).
"""

from __future__ import annotations

import importlib
import traceback
from typing import Any, Callable, Dict, Mapping, Optional

from ._events import InvalidConfig
from ._runtime import ReplyLike, Runtime, describe
from ._stream import SinkLike

__all__ = ["Bridge", "DEFAULT_AGENT", "load_agent_class"]

DEFAULT_AGENT = "agent_host.reference:ReferenceAgent"
"""The agent used when the plugin's ``agent`` option is not set."""

_Op = Callable[[int, Any, Optional[ReplyLike], Optional[SinkLike]], None]


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
        runtime = self.runtime
        self._ops: Dict[str, _Op] = {
            "create_agent": runtime.create_agent,
            "chat": runtime.chat,  # type: ignore[dict-item]
            "cancel_turn": runtime.cancel_turn,
            "send": runtime.send,  # type: ignore[dict-item]
            "cancel": runtime.cancel,  # type: ignore[dict-item]
            "shutdown": runtime.shutdown,
            "delete": runtime.delete,
            "try_shutdown": runtime.try_shutdown,
            "disconnect": runtime.disconnect,  # type: ignore[dict-item]
            "signal_idle": runtime.signal_idle,  # type: ignore[dict-item]
            "wait_for_idle": runtime.wait_for_idle,  # type: ignore[dict-item]
            "is_idle": runtime.is_idle,  # type: ignore[dict-item]
            "wait_for_wakeup": runtime.wait_for_wakeup,  # type: ignore[dict-item]
            "history": runtime.history,  # type: ignore[dict-item]
            "turn_count": runtime.turn_count,  # type: ignore[dict-item]
            "total_usage": runtime.total_usage,  # type: ignore[dict-item]
            "last_turn_usage": runtime.last_turn_usage,  # type: ignore[dict-item]
            "clear_history": runtime.clear_history,  # type: ignore[dict-item]
            "last_response": runtime.last_response,  # type: ignore[dict-item]
            "compaction_indices": runtime.compaction_indices,  # type: ignore[dict-item]
        }

    def submit(
        self,
        op: str,
        agent_id: int,
        arg: object,
        reply: Optional[ReplyLike],
        sink: Optional[SinkLike],
    ) -> None:
        """Runs one command; never blocks, never raises (errors go to reply or sink)."""
        try:
            handler = self._ops.get(op)
            if handler is None:
                message = f"agent_host: unknown operation {op!r}"
                if reply is not None:
                    reply.err("backend", message)
                if sink is not None:
                    sink.fail("backend", message, None)
                return
            handler(agent_id, arg, reply, sink)
        except BaseException as error:
            self._failed(op, error, reply, sink)

    def _failed(
        self,
        op: str,
        error: BaseException,
        reply: Optional[ReplyLike],
        sink: Optional[SinkLike],
    ) -> None:
        """A command blew up in the bridge itself: answer with the traceback."""
        try:
            message = f"agent_host: {op} failed: {describe(error)}"
            if reply is not None:
                reply.err("backend", message)
            if sink is not None:
                sink.fail("backend", message, None)
            if reply is None and sink is None:
                self.runtime.report(message, error)
        except BaseException:
            # Nothing left to answer through; never let it reach the loop callback.
            traceback.print_exc()
