"""The bundled reference agent: deterministic, offline, and slow enough to watch.

It is what the plugin runs when no ``agent`` option is given, what the demo shows and
what the conformance kit checks, so it exercises every event kind and both error
kinds the host maps specially. It mirrors the Rust mock backend's echo behaviour:

- the answer is ``"echo: " + content_text(content)`` (or, for a message without text,
  a description of its media), streamed word by word with ``chunk_delay_ms``
  (``config.extras``, default 10) between chunks, so a 60-word prompt takes ~0.6 s;
- before the text: ``Step(0, "received")``, a ``Thought``, a ``ToolCall`` when a
  configured tool's name appears in the text, ``Step(1, "answering")``; after it: a
  word-count ``Usage`` and, with a ``response_schema``, a ``StructuredOutput``;
- a message containing ``FAIL`` fails with ``AgentError``; ``QUOTA`` with
  ``QuotaExceeded(retry_after=0.05)``;
- host tools, the conformance kit's convention (as the mock follows it): each line
  ``<tool>: <input>`` naming a declared tool calls it through the host, all such calls
  at once, with ``{<the schema's only property, else "input">: <input>}``; the answer is
  then one line ``<tool>: <result>`` per call (a string result as it is, anything else
  as JSON, a failure as ``error: <message>``) instead of the echo. So with the CLI's
  demo tools, ``calculator: 6*7`` answers ``calculator: 42``.

An empty ``model`` is an invalid config, as for every bundled backend.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any, AsyncIterator, Dict, List, Optional, Tuple, Union

from ._config import AgentConfig
from ._content import Audio, Content, Document, Image, Multi, Video, content_text
from ._events import (
    AgentError,
    InvalidConfig,
    QuotaExceeded,
    Step,
    StructuredOutput,
    Thought,
    ToolCall,
    ToolError,
    Usage,
)
from ._tools import Tools

__all__ = [
    "ReferenceAgent",
    "argument_names",
    "call_all",
    "shown",
    "split_words",
    "structured_output",
    "tool_requests",
]

THOUGHT_QUOTE_CHARS = 40
"""How many characters of the user's text a thought quotes."""

FAIL_WORD = "FAIL"
QUOTA_WORD = "QUOTA"
QUOTA_RETRY_AFTER = 0.05

_CHUNK = re.compile(r"\S+\s*|\s+")

Event = Union[str, Step, Thought, ToolCall, Usage, StructuredOutput]


def split_words(answer: str) -> list[str]:
    """Word chunks that keep their trailing spaces: joined, they give ``answer`` back."""
    return _CHUNK.findall(answer)


def structured_output(schema: Dict[str, Any], answer: str, turn_number: int) -> Dict[str, Any]:
    """An object that follows ``schema`` just enough for tests (as the Rust mock does)."""
    properties = schema.get("properties")
    if not isinstance(properties, dict) or not properties:
        return {"text": answer}
    values: Dict[str, Any] = {}
    for name, prop in properties.items():
        kind = prop.get("type") if isinstance(prop, dict) else None
        if kind == "string":
            values[name] = answer
        elif kind in ("integer", "number"):
            values[name] = turn_number
        elif kind == "boolean":
            values[name] = True
        elif kind == "array":
            values[name] = []
        elif kind == "object":
            values[name] = {}
        else:
            values[name] = None
    return values


def _describe_media(content: Content) -> str:
    """``[image image/png, 3 bytes]`` for each media part, space-separated."""
    out: list[str] = []
    stack: list[Content] = [content]
    while stack:
        item = stack.pop()
        if isinstance(item, Multi):
            stack.extend(reversed(item.parts))
        elif isinstance(item, (Image, Document, Audio, Video)):
            out.append(f"[{type(item).__name__.lower()} {item.mime_type}, {len(item.data)} bytes]")
    return " ".join(out)


def _words(text: str) -> int:
    return len(text.split())


def argument_names(config: AgentConfig) -> Dict[str, str]:
    """For each declared tool, the argument a line's input fills: the parameter schema's
    only property if it has exactly one, else ``input`` (the mock's rule)."""
    names: Dict[str, str] = {}
    for tool in config.tools:
        schema = tool.parameter_schema
        properties = schema.get("properties") if isinstance(schema, dict) else None
        if isinstance(properties, dict) and len(properties) == 1:
            names[tool.name] = next(iter(properties))
        else:
            names[tool.name] = "input"
    return names


def tool_requests(text: str, arguments: Dict[str, str]) -> List[Tuple[str, Dict[str, str]]]:
    """The calls ``text`` asks for, in order: each line ``<tool>: <input>`` naming a
    declared tool (``arguments``, from ``argument_names``)."""
    requests: List[Tuple[str, Dict[str, str]]] = []
    for line in text.splitlines():
        tool, colon, value = line.partition(":")
        tool = tool.strip()
        if colon and tool in arguments:
            requests.append((tool, {arguments[tool]: value.strip()}))
    return requests


def shown(result: Any) -> str:
    """A tool's result as an answer line shows it: a string as it is, else compact JSON
    (as the mock prints it)."""
    if isinstance(result, str):
        return result
    return json.dumps(result, ensure_ascii=False, separators=(",", ":"))


async def call_all(tools: Tools, requests: List[Tuple[str, Dict[str, str]]]) -> str:
    """Runs every request at once; the answer has a line ``<tool>: <result>`` per call,
    in request order."""

    async def one(tool: str, args: Dict[str, str]) -> str:
        try:
            return shown(await tools.call(tool, args))
        except ToolError as error:
            return f"error: {error.message}"

    outputs = await asyncio.gather(*(one(tool, args) for tool, args in requests))
    return "\n".join(f"{tool}: {output}" for (tool, _), output in zip(requests, outputs))


class ReferenceAgent:
    """Echoes the message back, word by word, with every kind of event around it."""

    def __init__(self, config: AgentConfig) -> None:
        if not config.model:
            raise InvalidConfig("model must not be empty")
        delay_ms = config.extras.get("chunk_delay_ms", 10)
        if isinstance(delay_ms, bool) or not isinstance(delay_ms, (int, float)) or delay_ms < 0:
            raise InvalidConfig(
                f"extras.chunk_delay_ms must be a non-negative number, got {delay_ms!r}"
            )
        self.config = config
        self.delay: float = delay_ms / 1000
        self.tools = [tool.name for tool in config.tools if tool.name]
        self.arguments = argument_names(config)
        # Turns started, 1-based once the first starts (the host's turn number).
        self.turns_started = 0

    async def chat(self, content: Content) -> AsyncIterator[Event]:
        self.turns_started += 1
        number = self.turns_started
        text = content_text(content)
        yield Step(0, "received")
        if FAIL_WORD in text:
            raise AgentError(f"reference agent: the message contains the trigger word {FAIL_WORD}")
        if QUOTA_WORD in text:
            raise QuotaExceeded(
                retry_after=QUOTA_RETRY_AFTER,
                message=f"reference agent: the message contains the trigger word {QUOTA_WORD}",
            )
        thought = "considering: " + text[:THOUGHT_QUOTE_CHARS]
        yield Thought(thought)
        requests = tool_requests(text, self.arguments) if self.arguments else []
        if requests:
            # The runtime streams each call and its result: nothing to yield for them.
            answer = await call_all(self.config.host_tools, requests)
        else:
            tool = next((name for name in self.tools if name in text), None)
            if tool is not None:
                yield ToolCall(f"call-{number}-0", tool, {"query": text})
            answer = "echo: " + (text if text else _describe_media(content))
        yield Step(1, "answering")

        delay = self.delay
        for index, chunk in enumerate(split_words(answer)):
            if index:
                await asyncio.sleep(delay)
            yield chunk

        prompt, candidates, thoughts = _words(text), _words(answer), _words(thought)
        yield Usage(
            prompt=prompt,
            candidates=candidates,
            thoughts=thoughts,
            total=prompt + candidates + thoughts,
        )
        schema: Optional[Dict[str, Any]] = self.config.response_schema
        if schema is not None:
            yield StructuredOutput(structured_output(schema, answer, number))
