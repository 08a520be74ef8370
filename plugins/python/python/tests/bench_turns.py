"""Micro-benchmark: the Python-side cost of a short turn through ``agent_host``.

Not a test. Run from ``plugins/python/python``::

    python3 tests/bench_turns.py [in_flight] [--profile]

The same agent as the criterion bench (``benches/agents/bench_agents.py:FastAgent``,
one chunk per turn), ``in_flight`` turns at a time (default 100, as in the bench's
``turns_in_flight``; 1 is its ``turn_latency``), driven two ways in one interpreter:

1. plain asyncio, each turn a task, gathered (what ``bench_agents:Baseline`` does);
2. ``Bridge.submit(Op.CHAT, ...)`` with a no-op sink, one per agent, as Rust calls it.

It prints microseconds per turn (best of five) and the garbage collections each side
triggered: the Rust crossings are not measured here, but the collections they would
share are. ``--profile`` prints a cProfile of the bridge side instead.
"""

from __future__ import annotations

import asyncio
import cProfile
import gc
import os
import pstats
import sys
import time
from typing import Awaitable, Callable, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(HERE, "..", "..", "benches", "agents"))

import bench_agents  # noqa: E402
from fake_native import Op, Reply  # noqa: E402  (first: it is agent_host._native)
from agent_host import Text  # noqa: E402
from agent_host._bridge import Bridge  # noqa: E402

ROUNDS = 300


class CountingSink:
    """A Rust ``TurnSink`` that accepts everything; counts completed turns."""

    cancelled = False
    completed = 0

    def texts(self, chunks: List[str]) -> bool:
        return True

    def usage(self, counts: object) -> bool:
        return True

    def complete(self, *args: object) -> str:
        CountingSink.completed += 1
        return ""

    def fail(self, kind: str, message: str, retry_after: Optional[float] = None) -> bool:
        raise RuntimeError(f"a turn failed: {kind}: {message}")


async def plain_round_runner(in_flight: int) -> Callable[[], Awaitable[None]]:
    agent = bench_agents.FastAgent(None)
    message = Text("chunks=1")

    async def plain_round() -> None:
        tasks = [
            asyncio.create_task(bench_agents._one_turn(agent, message)) for _ in range(in_flight)
        ]
        await asyncio.gather(*tasks)

    return plain_round


async def bridge_round_runner(in_flight: int) -> Callable[[], Awaitable[None]]:
    bridge = Bridge({"agent": "bench_agents:FastAgent"})
    for agent_id in range(in_flight):
        reply = Reply()
        bridge.submit(Op.CREATE_AGENT, agent_id, '{"model": "bench"}', reply, None)
        await reply.result()
    sinks = [CountingSink() for _ in range(in_flight)]
    next_turn = 0

    async def bridge_round() -> None:
        nonlocal next_turn
        CountingSink.completed = 0
        for agent_id in range(in_flight):
            next_turn += 1
            parts = [("text", "chunks=1")]
            bridge.submit(Op.CHAT, agent_id, (next_turn, parts), None, sinks[agent_id])
        while CountingSink.completed < in_flight:
            await asyncio.sleep(0)
        if next_turn % 20_000 < in_flight:  # the criterion bench clears now and then too
            for agent_id in range(in_flight):
                reply = Reply()
                bridge.submit(Op.CLEAR_HISTORY, agent_id, None, reply, None)
                await reply.result()

    return bridge_round


async def measure(run: Callable[[], Awaitable[None]], in_flight: int) -> tuple[float, int]:
    """Best of five batches of ``ROUNDS`` rounds: microseconds per turn, collections."""
    for _ in range(ROUNDS // 10):
        await run()  # warm up
    collections = sum(stat["collections"] for stat in gc.get_stats())
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(ROUNDS):
            await run()
        best = min(best, (time.perf_counter() - started) / (ROUNDS * in_flight))
    collections = sum(stat["collections"] for stat in gc.get_stats()) - collections
    return best * 1e6, collections


async def main() -> None:
    in_flight = next((int(arg) for arg in sys.argv[1:] if arg.isdigit()), 100)
    bridge_round = await bridge_round_runner(in_flight)
    if "--profile" in sys.argv:
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(ROUNDS):
            await bridge_round()
        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)
        return
    print(f"python {sys.version.split()[0]}, {in_flight} one-chunk turns in flight")
    plain, plain_gc = await measure(await plain_round_runner(in_flight), in_flight)
    bridged, bridged_gc = await measure(bridge_round, in_flight)
    print(f"plain asyncio (task per turn)   {plain:6.2f} us/turn  {plain_gc:5d} collections")
    print(f"Bridge.submit (no-op sink)      {bridged:6.2f} us/turn  {bridged_gc:5d} collections")
    print(f"ratio (plain / bridge)          {plain / bridged:6.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
