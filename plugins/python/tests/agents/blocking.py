"""Agents that block the event loop, as careless agent code does."""

import asyncio
import time

from agent_host import content_text


class Sleeps:
    """`S`: a first chunk, then `time.sleep(S)` (the whole loop stops), then the rest."""

    def __init__(self, config):
        pass

    async def chat(self, content):
        yield "thinking "
        await asyncio.sleep(0)  # the first chunk goes out before the loop stops
        time.sleep(float(content_text(content)))
        yield "done"


class Spins:
    """`S`: a first chunk, then S seconds of pure-Python work that never awaits."""

    def __init__(self, config):
        pass

    async def chat(self, content):
        yield "thinking "
        await asyncio.sleep(0)
        until = time.monotonic() + float(content_text(content))
        count = 0
        while time.monotonic() < until:
            count += 1
        yield "done"


class SlowStart:
    """Blocks the loop for `extras.start_seconds` while it is built; its `shutdown()`
    hook writes "shut down" to the file `extras.marker`."""

    def __init__(self, config):
        time.sleep(float(config.extras.get("start_seconds", 0)))
        self.marker = config.extras.get("marker")

    async def chat(self, content):
        yield "ok"

    def shutdown(self):
        with open(self.marker, "w") as marker:
            marker.write("shut down")
