"""Micro-benchmark: the Python-side cost of streaming text through ``agent_host``.

Not a test. Run from ``plugins/python/python``::

    python3 tests/bench_baseline.py [chunks_per_turn] [turns]

It prints chunks/s for the same 10,000-chunk async generator consumed by

1. a plain asyncio loop that drops every chunk (the floor);
2. a plain asyncio loop that keeps every chunk in a list (what any consumer must do);
3. a whole turn through ``Bridge.submit(Op.CHAT, ...)`` with a no-op sink (the batching
   plus queueing, the turn's task, history and completion),

and each one's ratio to (1). The Rust crossing itself is not measured here.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import AsyncIterator, Callable, Coroutine, List, Optional

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fake_native import Op, Reply  # noqa: E402  (first: it is agent_host._native)
from agent_host import AgentConfig  # noqa: E402
from agent_host._bridge import Bridge  # noqa: E402
from agent_host._content import Text, to_parts  # noqa: E402


async def chunks(count: int) -> AsyncIterator[str]:
    for _ in range(count):
        yield "word "


class NoopSink:
    """Accepts everything, like a Rust sink whose reader keeps up; counts batches."""

    cancelled = False

    def __init__(self) -> None:
        self.batches = 0
        self.done: Optional[asyncio.Future[None]] = None

    def texts(self, chunks: List[str]) -> bool:
        self.batches += 1
        return True

    def thought(self, text: str) -> bool:
        return True

    def tool_call(self, id: str, name: str, args_json: str) -> bool:
        return True

    def step(self, index: int, description: str) -> bool:
        return True

    def usage(self, counts: object) -> bool:
        return True

    def complete(self, *args: object) -> str:
        if self.done is not None:
            self.done.set_result(None)
        return ""

    def fail(self, kind: str, message: str, retry_after: Optional[float] = None) -> bool:
        if self.done is not None:
            self.done.set_exception(RuntimeError(f"{kind}: {message}"))
        return True


class BurstAgent:
    chunks_per_turn = 10_000

    def __init__(self, config: AgentConfig) -> None:
        pass

    async def chat(self, content: object) -> AsyncIterator[str]:
        for _ in range(self.chunks_per_turn):
            yield "word "


async def plain_drop(count: int) -> None:
    async for _ in chunks(count):
        pass


async def plain_keep(count: int) -> None:
    kept: List[str] = []
    append = kept.append
    async for chunk in chunks(count):
        append(chunk)


def whole_turn_runner() -> Callable[[int], Coroutine[None, None, None]]:
    state: dict[str, object] = {}

    async def whole_turn(count: int) -> None:
        BurstAgent.chunks_per_turn = count
        if "bridge" not in state:
            bridge = Bridge({"agent": "__main__:BurstAgent"})
            reply = Reply()
            bridge.submit(Op.CREATE_AGENT, 1, '{"model": "bench"}', reply, None)
            await reply.result()
            state["bridge"] = bridge
            state["turn"] = 0
        bridge = state["bridge"]
        state["turn"] = turn = int(state["turn"]) + 1  # type: ignore[call-overload]
        sink = NoopSink()
        sink.done = asyncio.get_running_loop().create_future()
        bridge.submit(Op.CHAT, 1, (turn, to_parts(Text("go"))), None, sink)  # type: ignore[attr-defined]
        await sink.done

    return whole_turn


async def measure(
    run: Callable[[int], Coroutine[None, None, None]], count: int, turns: int
) -> float:
    """Best of five rounds of ``turns`` turns, in chunks per second."""
    await run(count)  # warm up
    best = 0.0
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(turns):
            await run(count)
            # Every variant lets the loop turn once per turn (the flusher needs it).
            await asyncio.sleep(0)
        elapsed = time.perf_counter() - started
        best = max(best, count * turns / elapsed)
    return best


async def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    turns = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    print(f"python {sys.version.split()[0]}, {count} chunks per turn, {turns} turns, best of 5")
    floor = await measure(plain_drop, count, turns)
    rows = [
        ("plain asyncio, chunks dropped", floor),
        ("plain asyncio, chunks kept in a list", await measure(plain_keep, count, turns)),
        ("agent_host whole turn via Bridge.submit", await measure(whole_turn_runner(), count, turns)),
    ]
    for name, rate in rows:
        print(f"{name:45s} {rate / 1e6:6.2f} M chunks/s  {rate / floor:5.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
