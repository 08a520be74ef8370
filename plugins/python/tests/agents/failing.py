"""Agents that fail in the ways the backend must report clearly."""

import asyncio

import agent_host


class Raises:
    def __init__(self, config):
        pass

    async def chat(self, content):
        yield "partial "
        raise ValueError("the agent broke on purpose")


class OverQuota:
    def __init__(self, config):
        pass

    async def chat(self, content):
        raise agent_host.QuotaExceeded(retry_after=2.5, message="slow down")
        yield  # pragma: no cover - makes this an async generator


class QuotaAsked:
    """Raises QuotaExceeded with the message as its retry_after (any float, "nan" too)."""

    def __init__(self, config):
        pass

    async def chat(self, content):
        yield "partial "
        raise agent_host.QuotaExceeded(retry_after=float(agent_host.content_text(content)))


class Hangs:
    def __init__(self, config):
        pass

    async def chat(self, content):
        yield "thinking "
        await asyncio.sleep(3600)


class RefusesConfig:
    def __init__(self, config):
        raise agent_host.InvalidConfig("this agent needs extras.secret")

    async def chat(self, content):
        yield ""


not_a_class = 42


class LoneSurrogate:
    """Valid chunks, then one with a lone surrogate (which UTF-8 cannot carry)."""

    def __init__(self, config):
        pass

    async def chat(self, content):
        yield "fine "
        yield "ok \ud800 never seen"
        yield "nor this"


class LoneSurrogateAnswer:
    """A coroutine chat whose whole answer holds a lone surrogate."""

    def __init__(self, config):
        pass

    async def chat(self, content):
        return "ok \udfff never seen"
