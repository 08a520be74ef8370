"""The agent's config, parsed from the JSON the Rust side sends.

The JSON is the serde form of Rust's ``AgentConfig``; missing keys take the same
defaults as there, and unknown keys are ignored so a newer host keeps working with this
module. Type errors are ``InvalidConfig`` so the application gets a config error, not a
crash.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional

from ._events import InvalidConfig
from ._tools import Tools

__all__ = ["AgentConfig", "Tool"]


@dataclass(frozen=True, slots=True)
class Tool:
    """A tool the model may call; ``parameter_schema`` is a JSON Schema (any JSON value)."""

    name: str
    description: str = ""
    parameter_schema: Any = None


@dataclass(slots=True)
class AgentConfig:
    """Everything needed to start one agent (mirrors Rust's ``AgentConfig``)."""

    model: str = ""
    api_key: Optional[str] = None
    system_instructions: Optional[str] = None
    tools: List[Tool] = field(default_factory=list)
    response_schema: Optional[Dict[str, Any]] = None
    conversation_id: Optional[str] = None
    save_dir: Optional[str] = None
    max_quota_retries: int = 0
    extras: Dict[str, Any] = field(default_factory=dict)
    host_tools: Tools = field(default_factory=Tools, repr=False, compare=False)
    """The application's tools this agent may call (``await host_tools.call(...)``): those
    of ``tools`` the host has a handler for. Set by the plugin, not read from the JSON."""

    @classmethod
    def from_json(cls, source: str | bytes | Mapping[str, Any]) -> "AgentConfig":
        """Parses the Rust side's JSON (or an already decoded mapping).

        Raises ``InvalidConfig`` for malformed JSON or a value of the wrong type.
        """
        if isinstance(source, (str, bytes, bytearray)):
            try:
                data = json.loads(source)
            except ValueError as error:
                raise InvalidConfig(f"the agent config is not valid JSON: {error}") from None
        else:
            data = source
        if not isinstance(data, Mapping):
            raise InvalidConfig(
                f"the agent config must be a JSON object, got {type(data).__name__}"
            )
        tools_data = _get(data, "tools", list, [])
        tools: list[Tool] = []
        for index, tool in enumerate(tools_data):
            if not isinstance(tool, Mapping):
                raise InvalidConfig(f"tools[{index}] must be an object")
            name = tool.get("name")
            if not isinstance(name, str):
                raise InvalidConfig(f"tools[{index}].name must be a string")
            description = tool.get("description", "")
            if description is None:
                description = ""
            if not isinstance(description, str):
                raise InvalidConfig(f"tools[{index}].description must be a string")
            tools.append(Tool(name, description, tool.get("parameter_schema")))
        response_schema = data.get("response_schema")
        if response_schema is not None and not isinstance(response_schema, dict):
            raise InvalidConfig("response_schema must be an object (a JSON Schema) or null")
        retries = data.get("max_quota_retries", 0)
        if retries is None:
            retries = 0
        if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
            raise InvalidConfig("max_quota_retries must be a non-negative integer")
        return cls(
            model=_get(data, "model", str, ""),
            api_key=_get_optional_str(data, "api_key"),
            system_instructions=_get_optional_str(data, "system_instructions"),
            tools=tools,
            response_schema=response_schema,
            conversation_id=_get_optional_str(data, "conversation_id"),
            save_dir=_get_optional_str(data, "save_dir"),
            max_quota_retries=retries,
            extras=dict(_get(data, "extras", dict, {})),
        )

    def resolved_api_key(self) -> Optional[str]:
        """The configured key, else ``$AGENT_API_KEY`` (the Rust side's rule); never ``""``."""
        import os

        key = self.api_key if self.api_key is not None else os.environ.get("AGENT_API_KEY")
        return key or None


def _get(data: Mapping[str, Any], key: str, kind: type, default: Any) -> Any:
    value = data.get(key, default)
    if value is None:
        return default
    if not isinstance(value, kind):
        raise InvalidConfig(f"{key} must be a {_KIND_NAMES[kind]}, got {type(value).__name__}")
    return value


def _get_optional_str(data: Mapping[str, Any], key: str) -> Optional[str]:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidConfig(f"{key} must be a string or null, got {type(value).__name__}")
    return value


_KIND_NAMES = {str: "string", list: "list", dict: "object"}
