"""Agents the tests load through the bridge's ``"module:attr"`` spec (``agents:Name``)."""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, List, Optional

import agent_host
from agent_host import (
    AgentConfig,
    AgentError,
    Content,
    InvalidConfig,
    Message,
    QuotaExceeded,
    Step,
    Text,
    Thought,
    Usage,
    content_text,
)


class Recorder:
    """Logs when each turn starts and ends; sleeps ``delay`` (extras) per chunk.

    A text ``"hold"`` sleeps for a long time, so a test can act on a running turn.
    """

    def __init__(self, config: AgentConfig) -> None:
        self.delay: float = config.extras.get("delay", 0.001)
        self.log: List[tuple[str, str]] = []
        self.closed = False

    async def chat(self, content: Content) -> AsyncIterator[Any]:
        text = content_text(content)
        self.log.append(("start", text))
        try:
            if text == "hold":
                await asyncio.sleep(60)
            for word in ("a ", "b ", "c"):
                await asyncio.sleep(self.delay)
                yield word
            yield Usage(prompt=1, candidates=3, total=4)
            self.log.append(("end", text))
        except asyncio.CancelledError:
            self.log.append(("cancelled", text))
            raise
        except GeneratorExit:
            self.log.append(("closed", text))
            raise


class Burst:
    """Yields ``chunks`` (extras, default 10,000) numbered chunks without ever awaiting."""

    def __init__(self, config: AgentConfig) -> None:
        self.count: int = config.extras.get("chunks", 10_000)

    async def chat(self, content: Content) -> AsyncIterator[str]:
        for index in range(self.count):
            yield f"{index},"


class Endless:
    """Yields forever without awaiting; notes when it is closed."""

    def __init__(self, config: AgentConfig) -> None:
        self.closed = False
        self.yielded = 0

    async def chat(self, content: Content) -> AsyncIterator[Any]:
        try:
            while True:
                self.yielded += 1
                if content_text(content) == "events":
                    yield Thought("thinking")
                else:
                    yield "x"
        finally:
            self.closed = True


class Raiser:
    """Fails as its message says: value, quota, agent, config, timeout, yield, return."""

    def __init__(self, config: AgentConfig) -> None:
        pass

    async def chat(self, content: Content) -> AsyncIterator[Any]:
        text = content_text(content)
        yield "partial "
        if text == "value":
            raise ValueError("bad value in the agent")
        if text == "quota":
            raise QuotaExceeded(retry_after=1.5, message="provider said slow down")
        if text == "agent":
            raise AgentError("plain agent failure")
        if text == "config":
            raise InvalidConfig("the agent found its config lacking")
        if text == "timeout":
            raise TimeoutError("the agent's own network timeout")
        if text == "yield":
            yield object()
        if text == "none":
            yield None
        if text == "args":
            yield agent_host.ToolCall("id", "tool", {1, 2})
        yield "done"


class BadInit:
    """Fails at construction in the way ``extras.fail`` says."""

    def __init__(self, config: AgentConfig) -> None:
        how = config.extras.get("fail")
        if how == "value":
            raise ValueError("value rejected by the agent")
        if how == "config":
            raise InvalidConfig("config rejected by the agent")
        if how == "crash":
            raise RuntimeError("the agent crashed in __init__")

    async def chat(self, content: Content) -> AsyncIterator[str]:
        yield "ok"


class Coro:
    """A five-line agent: ``chat`` is a coroutine returning the whole answer."""

    def __init__(self, config: AgentConfig) -> None:
        self.config = config

    async def chat(self, content: Content) -> Any:
        text = content_text(content)
        if text == "not a str":
            return 42
        return "coro: " + text


class Hooked:
    """Defines every optional hook, half of them async, and records each call."""

    def __init__(self, config: AgentConfig) -> None:
        self.calls: List[str] = []
        self.turns = 0

    async def chat(self, content: Content) -> AsyncIterator[Any]:
        if content_text(content) == "hold":
            await asyncio.sleep(60)
        self.turns += 1
        yield "hooked"

    def history(self) -> List[Message]:
        self.calls.append("history")
        return [Message("system", Text("be nice")), Message("user", "hi")]

    async def turn_count(self) -> int:
        self.calls.append("turn_count")
        return 41

    def total_usage(self) -> Usage:
        self.calls.append("total_usage")
        return Usage(total=100)

    async def last_turn_usage(self) -> Usage:
        self.calls.append("last_turn_usage")
        return Usage(prompt=7)

    def clear_history(self) -> None:
        self.calls.append("clear_history")

    async def last_response(self) -> Optional[str]:
        self.calls.append("last_response")
        return "from the hook"

    def compaction_indices(self) -> List[int]:
        self.calls.append("compaction_indices")
        return [2]

    async def on_cancel(self) -> None:
        self.calls.append("on_cancel")

    async def shutdown(self) -> None:
        self.calls.append("shutdown")

    def delete(self) -> None:
        self.calls.append("delete")

    async def disconnect(self) -> None:
        self.calls.append("disconnect")


class Steps:
    """Yields every event kind, a str subclass, and a bad Step when asked."""

    def __init__(self, config: AgentConfig) -> None:
        pass

    async def chat(self, content: Content) -> AsyncIterator[Any]:
        if content_text(content) == "bad step":
            yield Step(-1, "negative")

        class Loud(str):
            pass

        yield Step(0, "start")
        yield "one "
        yield Loud("two ")
        yield Thought("hmm")
        yield agent_host.ToolCall("c1", "search", {"q": ["x", 1]})
        yield "three"
        yield Usage(prompt=1)
        yield Usage(prompt=2, total=2)
        yield agent_host.StructuredOutput({"a": 1})
        yield agent_host.StructuredOutput({"a": 2})


NOT_CALLABLE = 42


class NoChat:
    def __init__(self, config: AgentConfig) -> None:
        pass


class ToolUser:
    """Calls host tools as its message says: ``"<tool> <json args>"`` per line, all at
    once; answers one line per call, ``ok <result JSON>`` or ``error <message>``. A line
    ``outside`` calls a tool from a task that outlives the turn (see the tests)."""

    def __init__(self, config: AgentConfig) -> None:
        self.tools = config.host_tools
        self.config = config
        self.errors: List[BaseException] = []

    async def chat(self, content: Content) -> AsyncIterator[Any]:
        import json

        async def one(line: str) -> str:
            name, _, args = line.partition(" ")
            try:
                result = await self.tools.call(name, json.loads(args or "{}"))
            except agent_host.ToolError as error:
                self.errors.append(error)
                return f"error {error.message}"
            return "ok " + json.dumps(result)

        lines = content_text(content).splitlines()
        answers = await asyncio.gather(*(one(line) for line in lines))
        yield "\n".join(answers)
