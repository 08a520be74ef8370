"""Agents that stream in the ways the native pump must carry faithfully."""

import asyncio
import time

from agent_host import Step, Thought, content_text


class Drip:
    """One chunk, a pause, another chunk: the first must reach the reader at once."""

    def __init__(self, config):
        pass

    async def chat(self, content):
        yield "first "
        await asyncio.sleep(0.5)
        yield "second"


class Burst:
    """`N`: N numbered chunks without ever awaiting (more than one batch's worth)."""

    def __init__(self, config):
        pass

    async def chat(self, content):
        for index in range(int(content_text(content))):
            yield f"{index},"


class Hog:
    """A full batch of chunks, then half a second of work that never yields to the loop
    (a blocking call), then the last chunk."""

    def __init__(self, config):
        pass

    async def chat(self, content):
        for index in range(4096):
            yield f"{index},"
        time.sleep(0.5)
        yield "end"


class Mixed:
    """Text and other events interleaved, including a str subclass chunk."""

    class Loud(str):
        pass

    def __init__(self, config):
        pass

    async def chat(self, content):
        yield "one "
        yield Thought("thinking")
        yield self.Loud("two ")
        await asyncio.sleep(0)
        yield Step(1, "halfway")
        yield "three"


class Odd:
    """Yields something that is no event after some text: `None`, or a tuple (which a
    careless pump would take for the arguments of its `StopIteration`)."""

    def __init__(self, config):
        pass

    async def chat(self, content):
        yield "before "
        yield None if content_text(content) == "none" else ("a", "tuple")
        yield "never"


class Swallows:
    """Ignores its cancellation and keeps talking: the turn must still end."""

    def __init__(self, config):
        self.after_cancel = []

    async def chat(self, content):
        yield "started"
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            pass
        while True:
            yield "still here"
            await asyncio.sleep(0.01)


class Iterator:
    """Not an async generator: an object with `__anext__` (a coroutine)."""

    def __init__(self, config):
        pass

    def chat(self, content):
        return _Countdown(3)


class _Countdown:
    def __init__(self, start):
        self.left = start

    def __aiter__(self):
        return self

    async def __anext__(self):
        if self.left == 0:
            raise StopAsyncIteration
        await asyncio.sleep(0)
        self.left -= 1
        return f"{self.left + 1} "
