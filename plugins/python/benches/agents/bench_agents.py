"""Agents for the Python bridge benchmarks (`cargo xtask bench`).

`FastAgent` is the agent measured. `Baseline` drives the same agent with plain asyncio
on the same interpreter and loop, and answers with the time it took: that is the
baseline every bridge figure is compared with. `Waiting` and `MemoryBaseline` measure
resident memory per in-flight turn the same two ways.
"""

from __future__ import annotations

import asyncio
import time

from agent_host import Text, content_text


def _spec(content) -> dict[str, int]:
    return {key: int(value) for key, value in (item.split("=") for item in content_text(content).split())}


class FastAgent:
    """Answers `chunks=N` with N one-character chunks, never awaiting."""

    def __init__(self, config) -> None:
        pass

    async def chat(self, content):
        for _ in range(_spec(content).get("chunks", 1)):
            yield "x"


class BusyAgent:
    """Answers `spin=N` after N steps of a pure-Python loop: an agent's own work, holding
    the GIL (the workers bench)."""

    def __init__(self, config) -> None:
        pass

    async def chat(self, content):
        for _ in range(_spec(content).get("spin", 0)):
            pass
        yield "x"


async def _one_turn(agent: FastAgent, message: Text) -> str:
    chunks = []
    async for chunk in agent.chat(message):
        chunks.append(chunk)
    return "".join(chunks)


class Baseline:
    """`turns=T in_flight=F chunks=C`: T turns of FastAgent, F at a time, each turn an
    asyncio task, on this loop. Answers with the elapsed nanoseconds."""

    def __init__(self, config) -> None:
        self.agent = FastAgent(config)

    async def chat(self, content):
        spec = _spec(content)
        turns, in_flight = spec["turns"], spec["in_flight"]
        message = Text(f"chunks={spec['chunks']}")
        agent = self.agent
        start = time.perf_counter_ns()
        for _ in range(max(1, turns // in_flight)):
            tasks = [asyncio.create_task(_one_turn(agent, message)) for _ in range(in_flight)]
            await asyncio.gather(*tasks)
        yield str(time.perf_counter_ns() - start)


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


class Waiting:
    """A turn that stays in flight until its handle is dropped."""

    def __init__(self, config) -> None:
        pass

    async def chat(self, content):
        yield "started"
        await asyncio.Event().wait()


class MemoryBaseline:
    """`turns=N`: starts N Waiting turns as plain asyncio tasks, answers with the
    resident bytes they added, then cancels them."""

    def __init__(self, config) -> None:
        pass

    async def chat(self, content):
        turns = _spec(content)["turns"]
        agent = Waiting(None)
        before = resident_bytes()
        tasks = [asyncio.create_task(_one_turn(agent, Text("go"))) for _ in range(turns)]
        await asyncio.sleep(0.05)
        grown = resident_bytes() - before
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        yield str(grown)
