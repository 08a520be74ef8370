"""Serve a pydantic-ai agent through agent-host's Python backend.

``PydanticAgent`` is an agent-host agent (see the ``agent_host`` package bundled with the
plugin) around a real ``pydantic_ai.Agent`` that has one function tool,
``get_weather(city)``. Each turn is one pydantic-ai run streamed with
``Agent.run_stream_events``; its events become agent-host events:

- text deltas become ``str`` chunks (the answer), thinking deltas ``Thought`` events;
- each call of its own tool becomes ``ToolCall(id, name, args)`` when pydantic-ai is
  about to run it, and ``Step(n, "get_weather returned: ...")`` once it has run;
- the application's tools (``config.tools`` the host has a handler for,
  ``config.host_tools``) are pydantic-ai tools too, built from their declarations
  (name, description, parameter schema), whose calls go through
  ``config.host_tools.call``: the host streams their ``ToolCall`` and ``ToolResult``
  events itself (the agent yields only the ``Step``), and a failed call is a
  ``ToolFailed`` the model sees. One named ``get_weather`` replaces the built-in;
- the run's usage becomes ``Usage`` (input/output/total tokens as
  prompt/candidates/total, cache reads as cached, reasoning tokens as thoughts),
  yielded once the run has finished;
- with a ``response_schema`` the run's output type is a ``StructuredDict`` of that
  schema, and its output is yielded as ``StructuredOutput``.

The conversation is pydantic-ai's own: every run gets the previous runs' messages as
``message_history``, and the ``history()`` hook shows those messages to the host (tool
traffic as ``tool`` messages). A cancelled turn leaves no trace in it (``on_cancel``),
``clear_history`` empties it.

Models (``AgentConfig.model``), all offline unless you name a provider:

- ``"scripted"`` (or ``"default"``, ``agent-host chat``'s model when given no
  ``--model``): a ``FunctionModel`` that behaves like a small weather model: it calls
  ``get_weather`` for every known city in the prompt (or, when the prompt names none, for
  the cities of the conversation's last lookup) and then streams an answer built from
  the tool results, word by word (``extras.chunk_delay_ms`` apart, default 0).
  Deterministic, tool call ids included. It also follows agent-host's tool lines: each
  line ``<tool>: <input>`` naming one of its other tools calls it with
  ``{<the schema's only property, else "input">: <input>}``, and the answer is one line
  ``<tool>: <result>`` per call (so ``calculator: 6*7`` answers ``calculator: 42``).
- ``"test"``: pydantic-ai's ``TestModel``, which calls every tool with generated
  arguments and answers with a JSON summary of the results.
- anything else is handed to pydantic-ai (``"openai:gpt-4o"``, ...): that needs the
  provider's extra installed (``pydantic-ai-slim[openai]``), its API key in the
  provider's environment variable (``AgentConfig.api_key`` is not used), and the
  network.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any, AsyncIterator, Dict, List, Sequence, Union


from agent_host import (
    AgentConfig,
    ToolError,
    Tools,
    Audio,
    Content,
    Document,
    Image,
    InvalidConfig,
    Message,
    Multi,
    Step,
    StructuredOutput,
    Text,
    Thought,
    ToolCall,
    Usage,
    Video,
)
from pydantic_ai import (
    Agent,
    Tool,
    AgentRunResultEvent,
    BinaryContent,
    FunctionToolCallEvent,
    FunctionToolResultEvent,
    ModelRequest,
    ModelResponse,
    PartDeltaEvent,
    PartStartEvent,
    RetryPromptPart,
    StructuredDict,
    TextPart,
    TextPartDelta,
    ThinkingPart,
    ThinkingPartDelta,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.exceptions import ToolFailed
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models import infer_model
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, FunctionModel
from pydantic_ai.usage import RunUsage

__all__ = [
    "PydanticAgent",
    "get_weather",
    "host_tool",
    "scripted_model",
    "WEATHER",
    "SCRIPTED_NAMES",
]

SCRIPTED_NAMES = ("scripted", "default")
"""Model names that pick the scripted model ("default" is what ``agent-host chat`` sends
when given no ``--model``)."""

Event = Union[str, Thought, ToolCall, Step, Usage, StructuredOutput]

# -- the tool ---------------------------------------------------------------------------

WEATHER: Dict[str, tuple[str, int]] = {
    "Paris": ("sunny", 21),
    "London": ("rainy", 14),
    "Tokyo": ("cloudy", 18),
    "Lima": ("foggy", 16),
}
"""The weather ``get_weather`` knows: ``city -> (sky, degrees Celsius)``."""


def get_weather(city: str) -> str:
    """Tell the current weather in a city.

    Args:
        city: The city's name, e.g. "Paris".
    """
    for name, (sky, celsius) in WEATHER.items():
        if name.lower() == city.strip().lower():
            return f"{sky}, {celsius} °C"
    return f"no weather data for {city!r}"


def host_tool(tools: Tools, name: str, description: str, schema: Any) -> Tool[None]:
    """The application's tool ``name`` as a pydantic-ai tool: the model sees its
    declaration, and a call goes to the host (``tools.call``). A failure is a
    ``ToolFailed``: the model is told and may adapt."""

    async def call(**args: Any) -> Any:
        try:
            return await tools.call(name, args)
        except ToolError as error:
            raise ToolFailed(error.message) from None

    if not isinstance(schema, dict) or not schema:
        schema = {"type": "object", "properties": {}}
    return Tool.from_schema(call, name=name, description=description, json_schema=schema)


# -- the offline "scripted" model -------------------------------------------------------

_WORDS = re.compile(r"\S+\s*")


def _prompt_text(part: UserPromptPart) -> str:
    if isinstance(part.content, str):
        return part.content
    return " ".join(item for item in part.content if isinstance(item, str))


def _cities_in(text: str) -> List[str]:
    """The known cities ``text`` names, in the order it names them."""
    found = [
        (match.start(), city)
        for city in WEATHER
        for match in [re.search(rf"\b{re.escape(city)}\b", text, re.IGNORECASE)]
        if match is not None
    ]
    return [city for _, city in sorted(found)]


async def scripted_model(
    messages: List[ModelMessage], info: AgentInfo, chunk_delay: float = 0.0
) -> AsyncIterator[Union[str, Dict[int, DeltaToolCall]]]:
    """A ``FunctionModel`` stream function that acts like a small weather model.

    After tool results it answers from them; after a user prompt it asks for
    ``get_weather`` for the cities the prompt names (else those of the conversation's
    last lookup); with no city at all it says what it can do. Text streams word by
    word, ``chunk_delay`` seconds apart.
    """
    last = messages[-1]
    assert isinstance(last, ModelRequest), last
    returns = [part for part in last.parts if isinstance(part, ToolReturnPart)]
    answers = [part for part in last.parts if isinstance(part, (ToolReturnPart, RetryPromptPart))]
    if any(part.tool_name != "get_weather" for part in answers):
        # The answer to tool lines: one line per call, in call order.
        lines = [f"{part.tool_name}: {_shown(part)}" for part in answers]
        async for chunk in _stream_words("\n".join(lines), chunk_delay):
            yield chunk
        return
    if returns:
        asked = {
            part.tool_call_id: part.args_as_dict().get("city", "?")
            for message in messages
            if isinstance(message, ModelResponse)
            for part in message.parts
            if isinstance(part, ToolCallPart)
        }
        answer = " ".join(
            f"The weather in {asked.get(part.tool_call_id, '?')} is {part.model_response_str()}."
            for part in returns
        )
        async for chunk in _stream_words(answer, chunk_delay):
            yield chunk
        return

    prompts = [
        part for message in messages if isinstance(message, ModelRequest)
        for part in message.parts if isinstance(part, UserPromptPart)
    ]
    text = _prompt_text(prompts[-1]) if prompts else ""
    lines = _tool_lines(text, info)
    if lines:
        turn = len(prompts)
        yield {
            index: DeltaToolCall(
                name=tool, json_args=json.dumps(args), tool_call_id=f"tool-{turn}-{index}"
            )
            for index, (tool, args) in enumerate(lines)
        }
        return
    cities = _cities_in(text)
    if not cities:
        # No city named: the ones of the conversation's last weather lookup.
        for message in reversed(messages):
            if isinstance(message, ModelResponse):
                cities = [
                    str(part.args_as_dict().get("city", ""))
                    for part in message.parts
                    if isinstance(part, ToolCallPart) and part.tool_name == "get_weather"
                ]
                if cities:
                    break
    can_call = any(tool.name == "get_weather" for tool in info.function_tools)
    if cities and can_call:
        turn = len(prompts)
        yield {
            index: DeltaToolCall(
                name="get_weather",
                json_args=json.dumps({"city": city}),
                tool_call_id=f"weather-{turn}-{index}",
            )
            for index, city in enumerate(cities)
        }
        return
    answer = "Ask me about the weather in " + ", ".join(WEATHER) + "."
    async for chunk in _stream_words(answer, chunk_delay):
        yield chunk


def _tool_lines(text: str, info: AgentInfo) -> List[tuple[str, Dict[str, str]]]:
    """The calls of agent-host's tool lines (``<tool>: <input>``) among the model's
    tools other than ``get_weather``: the input fills the schema's only property, else
    ``input``."""
    arguments: Dict[str, str] = {}
    for tool in info.function_tools:
        if tool.name == "get_weather":
            continue
        properties = (tool.parameters_json_schema or {}).get("properties")
        if isinstance(properties, dict) and len(properties) == 1:
            arguments[tool.name] = next(iter(properties))
        else:
            arguments[tool.name] = "input"
    calls = []
    for line in text.splitlines():
        tool, colon, value = line.partition(":")
        if colon and tool.strip() in arguments:
            calls.append((tool.strip(), {arguments[tool.strip()]: value.strip()}))
    return calls


def _shown(part: Union[ToolReturnPart, RetryPromptPart]) -> str:
    """A tool's result as a tool line's answer shows it (agent-host's mock does the
    same): a string as it is, else compact JSON, a failure as ``error: <message>``."""
    if isinstance(part, RetryPromptPart):
        return f"error: {part.content}"
    content = part.content
    if getattr(part, "outcome", "success") != "success":
        return f"error: {content}"
    if isinstance(content, str):
        return content
    return json.dumps(content, ensure_ascii=False, separators=(",", ":"))


async def _stream_words(text: str, delay: float) -> AsyncIterator[str]:
    for index, chunk in enumerate(_WORDS.findall(text)):
        if index and delay:
            await asyncio.sleep(delay)
        yield chunk


# -- the adapter ------------------------------------------------------------------------


def _user_content(content: Content) -> Union[str, List[Any]]:
    """agent-host content as a pydantic-ai user prompt (text, or text and media)."""
    if isinstance(content, Text):
        return content.text
    items: List[Any] = []
    stack: List[Content] = [content]
    while stack:
        item = stack.pop()
        if isinstance(item, Multi):
            stack.extend(reversed(item.parts))
        elif isinstance(item, Text):
            items.append(item.text)
        elif isinstance(item, (Image, Document, Audio, Video)):
            items.append(BinaryContent(data=item.data, media_type=item.mime_type))
    return items


def _usage(usage: RunUsage) -> Usage:
    """The run's usage (all its model requests) in agent-host's terms.

    pydantic-ai counts reasoning tokens inside ``output_tokens``; they are also
    reported apart as ``thoughts`` when the model reported any.
    """
    return Usage(
        prompt=usage.input_tokens,
        cached=usage.cache_read_tokens or None,
        candidates=usage.output_tokens,
        thoughts=usage.output_reasoning_tokens or None,
        total=usage.total_tokens,
    )


def _json_value(value: Any) -> Any:
    """``value`` if JSON can carry it, else its ``repr``."""
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value


class PydanticAgent:
    """An agent-host agent that plays each turn as one pydantic-ai run."""

    def __init__(self, config: AgentConfig) -> None:
        if not config.model:
            raise InvalidConfig('model must not be empty (try "scripted" or "test")')
        host = config.host_tools
        # The application's tools: each declared one the host has a handler for.
        tools: List[Any] = [
            host_tool(host, tool.name, tool.description, tool.parameter_schema)
            for tool in config.tools
            if tool.name in host
        ]
        if "get_weather" not in host:
            tools.append(get_weather)
        self.host_tools = host
        delay_ms = config.extras.get("chunk_delay_ms", 0)
        if isinstance(delay_ms, bool) or not isinstance(delay_ms, (int, float)) or delay_ms < 0:
            raise InvalidConfig(
                f"extras.chunk_delay_ms must be a non-negative number, got {delay_ms!r}"
            )
        if config.model in SCRIPTED_NAMES:
            delay = delay_ms / 1000

            def stream(messages: List[ModelMessage], info: AgentInfo) -> Any:
                return scripted_model(messages, info, delay)

            model: Any = FunctionModel(stream_function=stream, model_name="scripted")
        else:
            try:
                model = infer_model(config.model)
            except Exception as error:  # unknown provider, missing extra or key
                raise InvalidConfig(
                    f"model {config.model!r}: {type(error).__name__}: {error}"
                ) from None
        output_type: Any = str
        if config.response_schema is not None:
            try:
                output_type = StructuredDict(config.response_schema)
            except Exception as error:
                raise InvalidConfig(f"response_schema: {error}") from None
        self.agent: Agent[None, Any] = Agent(
            model,
            output_type=output_type,
            instructions=config.system_instructions,
            tools=tools,
            name="agent-host",
        )
        # pydantic-ai's history of the whole conversation: the next run's message_history.
        self.messages: List[ModelMessage] = []
        # What ``messages`` was before the running (or last) turn, for ``on_cancel``.
        self._before_turn: List[ModelMessage] = []

    async def chat(self, content: Content) -> AsyncIterator[Event]:
        self._before_turn = self.messages
        steps = 0
        async with self.agent.run_stream_events(
            _user_content(content), message_history=self.messages
        ) as events:
            async for event in events:
                if isinstance(event, PartStartEvent):
                    if isinstance(event.part, TextPart) and event.part.content:
                        yield event.part.content
                    elif isinstance(event.part, ThinkingPart) and event.part.content:
                        yield Thought(event.part.content)
                elif isinstance(event, PartDeltaEvent):
                    delta = event.delta
                    if isinstance(delta, TextPartDelta) and delta.content_delta:
                        yield delta.content_delta
                    elif isinstance(delta, ThinkingPartDelta) and delta.content_delta:
                        yield Thought(delta.content_delta)
                elif isinstance(event, FunctionToolCallEvent):
                    part = event.part
                    if part.tool_name in self.host_tools:
                        continue  # the host streams its own tools' calls and results
                    yield ToolCall(
                        part.tool_call_id,
                        part.tool_name,
                        part.args_as_dict(),
                    )
                elif isinstance(event, FunctionToolResultEvent):
                    result = event.part
                    if isinstance(result, ToolReturnPart) and result.outcome != "success":
                        failure = result.model_response_str(wrap_if_error=False)
                        description = f"{result.tool_name} failed: {failure}"
                    elif isinstance(result, ToolReturnPart):
                        description = f"{result.tool_name} returned: {result.model_response_str()}"
                    else:
                        description = f"{getattr(result, 'tool_name', 'a tool')} asked for a retry"
                    yield Step(steps, description)
                    steps += 1
                elif isinstance(event, AgentRunResultEvent):
                    result = event.result
                    # Only a finished run changes the conversation.
                    self.messages = result.all_messages()
                    yield _usage(result.usage)
                    if not isinstance(result.output, str):
                        yield StructuredOutput(_json_value(result.output))

    # -- hooks: the conversation is pydantic-ai's ------------------------------------

    def history(self) -> List[Message]:
        """pydantic-ai's messages as agent-host ones.

        User prompts are ``user`` messages, the model's text ``model`` messages, system
        prompts ``system`` messages; tool calls and their results are ``tool`` messages
        (``get_weather({"city": "Paris"})``, ``get_weather -> sunny, 21 °C``).
        """
        out: List[Message] = []
        for message in self.messages:
            if isinstance(message, ModelRequest):
                for part in message.parts:
                    if isinstance(part, UserPromptPart):
                        out.append(Message("user", _host_content(part.content)))
                    elif isinstance(part, ToolReturnPart):
                        out.append(
                            Message("tool", Text(f"{part.tool_name} -> {part.model_response_str()}"))
                        )
                    elif isinstance(part, RetryPromptPart):
                        out.append(Message("tool", Text(f"retry: {part.model_response()}")))
                    elif getattr(part, "part_kind", None) == "system-prompt":
                        out.append(Message("system", Text(str(getattr(part, "content", "")))))
            elif isinstance(message, ModelResponse):
                text = "".join(p.content for p in message.parts if isinstance(p, TextPart))
                for part in message.parts:
                    if isinstance(part, ToolCallPart):
                        out.append(
                            Message("tool", Text(f"{part.tool_name}({part.args_as_json_str()})"))
                        )
                if text:
                    out.append(Message("model", Text(text)))
        return out

    def clear_history(self) -> None:
        self.messages = []
        self._before_turn = []

    def on_cancel(self) -> None:
        # A cancelled turn leaves no trace in the conversation, as with the host's history.
        self.messages = self._before_turn


def _host_content(content: Union[str, Sequence[Any]]) -> Content:
    if isinstance(content, str):
        return Text(content)
    parts: List[Content] = []
    for item in content:
        if isinstance(item, str):
            parts.append(Text(item))
        elif isinstance(item, BinaryContent):
            kind = {"image": Image, "audio": Audio, "video": Video}.get(
                item.media_type.split("/", 1)[0], Document
            )
            parts.append(kind(item.data, item.media_type))
        else:
            parts.append(Text(str(item)))
    return parts[0] if len(parts) == 1 else Multi(parts)
