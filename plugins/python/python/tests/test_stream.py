"""Text batching, stopping on a closed sink, and many agents on one loop."""

from __future__ import annotations

import asyncio
import time
import unittest

from agent_host._stream import CAP, Flusher, TurnWriter
from fake_native import TurnSink
from support import HarnessCase, Op


class BatchingTests(HarnessCase):
    async def test_ten_thousand_chunks_in_order_in_few_calls(self) -> None:
        h = self.harness("agents:Burst")
        agent = await h.create(extras={"chunks": 10_000})
        sink = await self.turn_ok(h.chat(agent, "go"))
        self.assertEqual(sink.chunks, [f"{i}," for i in range(10_000)])
        # Flushed at the cap (4096) and at the end: three calls, not 10,000.
        self.assertLessEqual(sink.texts_calls, 10_000 // CAP + 1)
        history = await h.call(Op.HISTORY, agent)
        self.assertEqual(history[1][1], [("text", "".join(f"{i}," for i in range(10_000)))])

    async def test_chunks_of_many_turns_share_one_flush_per_iteration(self) -> None:
        loop = asyncio.get_running_loop()
        flusher = Flusher()
        sinks = [TurnSink() for _ in range(3)]
        writers = [TurnWriter(sink, flusher) for sink in sinks]
        scheduled = []
        original = loop.call_soon

        def spy(callback, *args, **kwargs):  # type: ignore[no-untyped-def]
            scheduled.append(callback)
            return original(callback, *args, **kwargs)

        loop.call_soon = spy  # type: ignore[method-assign]
        try:
            for writer in writers:
                for word in ("a", "", "é", "日本"):
                    self.assertTrue(writer.text(word))
        finally:
            loop.call_soon = original  # type: ignore[method-assign]
        self.assertEqual(len(scheduled), 1)
        await asyncio.sleep(0)
        for sink in sinks:
            self.assertEqual(sink.texts_calls, 1)
            self.assertEqual(sink.chunks, ["a", "", "é", "日本"])

    async def test_events_flush_pending_text_first(self) -> None:
        h = self.harness("agents:Steps")
        agent = await h.create()
        sink = await self.turn_ok(h.chat(agent, "go"))
        self.assertEqual(
            sink.kinds(),
            ["step", "text", "text", "thought", "tool_call", "text", "usage", "usage"],
        )


class ClosedSinkTests(HarnessCase):
    async def test_a_refusing_sink_stops_a_generator_that_never_awaits(self) -> None:
        h = self.harness("agents:Endless")
        agent = await h.create()
        endless = h.agent(agent)
        sink = h.chat(agent, "text", TurnSink(refuse_after=1))
        outcome = await sink.wait(timeout=5)
        self.assertEqual(outcome[:2], ("fail", "cancelled"))
        self.assertTrue(endless.closed)
        self.assertLessEqual(endless.yielded, 2 * CAP + 1)
        self.assertEqual(await h.call(Op.TURN_COUNT, agent), 0)
        # The agent goes on with its next turn.
        follow = h.chat(agent, "text", TurnSink(refuse_after=1))
        await follow.wait(timeout=5)
        self.assertTrue(await h.call(Op.IS_IDLE, agent))

    async def test_a_refused_event_stops_the_turn(self) -> None:
        h = self.harness("agents:Endless")
        agent = await h.create()
        endless = h.agent(agent)
        sink = TurnSink()
        sink.thought = lambda text: False  # type: ignore[method-assign]
        h.chat(agent, "events", sink)
        outcome = await sink.wait(timeout=5)
        self.assertEqual(outcome[:2], ("fail", "cancelled"))
        self.assertTrue(endless.closed)
        self.assertEqual(endless.yielded, 1)

    async def test_a_sink_closed_between_iterations_stops_the_turn(self) -> None:
        h = self.harness("agents:Recorder")
        agent = await h.create(extras={"delay": 0.01})
        recorder = h.agent(agent)
        sink = h.chat(agent, "slow")
        await asyncio.sleep(0.015)
        sink.drop()  # no cancel_turn: only the flusher can notice
        await sink.wait(timeout=5)
        await asyncio.sleep(0.05)
        self.assertIn(("cancelled", "slow"), recorder.log)
        self.assertEqual(await h.call(Op.TURN_COUNT, agent), 0)


class ScaleTests(HarnessCase):
    async def test_a_thousand_agents_chat_concurrently(self) -> None:
        h = self.harness()
        agents = [await h.create(extras={"chunk_delay_ms": 5}) for _ in range(1000)]
        started = time.monotonic()
        sinks = [h.chat(agent, f"hello agent {agent}") for agent in agents]
        await asyncio.gather(*(self.turn_ok(sink) for sink in sinks))
        elapsed = time.monotonic() - started
        for agent, sink in zip(agents, sinks):
            self.assertEqual(sink.text, f"echo: hello agent {agent}")
        # Each turn sleeps 3 x 5 ms; run one after another they would take 15 s.
        self.assertLess(elapsed, 5.0)
        self.assertEqual(len(h.bridge.runtime.turns), 0)
        for agent in agents[:10]:
            self.assertEqual(await h.call(Op.TURN_COUNT, agent), 1)


if __name__ == "__main__":
    unittest.main()
