"""Messages and idleness, conversation state, hooks, and the reference agent."""

from __future__ import annotations

import asyncio
import json
import time
import unittest

from agent_host import Image, Text
from agent_host._content import to_parts
from agent_host.reference import split_words
from fake_native import SavedFile, ToolMessages
from support import HarnessCase, Op, ReplyError


class SendAndWakeupTests(HarnessCase):
    async def test_send_queues_a_turn_that_lands_in_history(self) -> None:
        h = self.harness("agents:Recorder")
        agent = await h.create(extras={"delay": 0.005})
        self.assertIsNone(await h.send(agent, "sent").result())
        self.assertEqual(await h.call(Op.TURN_COUNT, agent), 0)  # returned without waiting
        chatted = await self.turn_ok(h.chat(agent, "chatted"))
        history = await h.call(Op.HISTORY, agent)
        self.assertEqual(
            history,
            [
                ("user", [("text", "sent")]),
                ("model", [("text", "a b c")]),
                ("user", [("text", "chatted")]),
                ("model", [("text", chatted.text)]),
            ],
        )
        self.assertEqual(await h.call(Op.TURN_COUNT, agent), 2)
        self.assertEqual(await h.call(Op.TOTAL_USAGE, agent), (2, None, 6, None, 8))

    async def test_a_waiter_is_woken_by_send(self) -> None:
        h = self.harness("agents:Recorder")
        agent = await h.create()
        waiter = h.submit(Op.WAIT_FOR_WAKEUP, agent, 10.0)
        assert waiter is not None
        await asyncio.sleep(0.05)
        self.assertFalse(waiter.answered)
        started = time.monotonic()
        h.send(agent, "wake up")
        self.assertTrue(await waiter.result())
        self.assertLess(time.monotonic() - started, 1.0)
        # That wakeup was reported: it is not pending any more.
        self.assertFalse(await h.call(Op.WAIT_FOR_WAKEUP, agent, 0.1))

    async def test_a_sent_message_is_reported_at_once_and_only_once(self) -> None:
        h = self.harness("agents:Recorder")
        agent = await h.create()
        await h.send(agent, "one").result()
        self.assertTrue(await h.call(Op.WAIT_FOR_WAKEUP, agent, 10.0, timeout=1.0))
        started = time.monotonic()
        self.assertFalse(await h.call(Op.WAIT_FOR_WAKEUP, agent, 0.2))
        self.assertGreaterEqual(time.monotonic() - started, 0.19)
        # A zero timeout still reports a pending wakeup.
        await h.send(agent, "two").result()
        self.assertTrue(await h.call(Op.WAIT_FOR_WAKEUP, agent, 0.0))
        self.assertFalse(await h.call(Op.WAIT_FOR_WAKEUP, agent, 0.0))

    async def test_wakeup_times_out(self) -> None:
        h = self.harness("agents:Recorder")
        agent = await h.create()
        started = time.monotonic()
        self.assertFalse(await h.call(Op.WAIT_FOR_WAKEUP, agent, 0.3))
        waited = time.monotonic() - started
        self.assertGreaterEqual(waited, 0.29)
        self.assertLess(waited, 2.0)


class IdleTests(HarnessCase):
    async def test_busy_while_a_turn_is_queued_or_running(self) -> None:
        h = self.harness("agents:Recorder")
        agent = await h.create()
        self.assertTrue(await h.call(Op.IS_IDLE, agent))
        self.assertIsNone(await h.call(Op.WAIT_FOR_IDLE, agent, timeout=1.0))
        first, second = h.chat(agent, "one"), h.chat(agent, "two")
        self.assertFalse(await h.call(Op.IS_IDLE, agent))
        waiter = h.submit(Op.WAIT_FOR_IDLE, agent)
        assert waiter is not None
        await waiter.result()
        # It returned only once both turns had completed.
        self.assertTrue(first.ended and second.ended)
        self.assertEqual(await h.call(Op.TURN_COUNT, agent), 2)
        self.assertTrue(await h.call(Op.IS_IDLE, agent))

    async def test_signal_idle_lasts_until_the_next_turn_starts(self) -> None:
        h = self.harness("agents:Recorder")
        agent = await h.create()
        running = h.chat(agent, "hold")
        waiter = h.submit(Op.WAIT_FOR_IDLE, agent)
        assert waiter is not None
        await asyncio.sleep(0.01)
        self.assertFalse(await h.call(Op.IS_IDLE, agent))
        self.assertFalse(waiter.answered)
        self.assertIsNone(await h.call(Op.SIGNAL_IDLE, agent))
        self.assertTrue(await h.call(Op.IS_IDLE, agent))
        await waiter.result(timeout=1.0)
        self.assertIsNone(await h.call(Op.WAIT_FOR_IDLE, agent, timeout=1.0))
        await h.call(Op.CANCEL, agent)
        await running.wait()
        nxt = h.chat(agent, "hold")
        self.assertFalse(await h.call(Op.IS_IDLE, agent))
        await h.call(Op.CANCEL, agent)
        await nxt.wait()
        self.assertTrue(await h.call(Op.IS_IDLE, agent))

    async def test_signal_idle_with_a_queued_turn(self) -> None:
        h = self.harness("agents:Recorder")
        agent = await h.create()
        h.chat(agent, "hold")
        h.chat(agent, "queued")
        await h.call(Op.SIGNAL_IDLE, agent)
        self.assertTrue(await h.call(Op.IS_IDLE, agent))
        await h.call(Op.CANCEL, agent)  # the queued turn starts: busy again
        await asyncio.sleep(0)
        self.assertFalse(await h.call(Op.IS_IDLE, agent))


class ConversationTests(HarnessCase):
    async def test_history_usage_and_clear(self) -> None:
        h = self.harness()
        agent = await h.create(extras={"chunk_delay_ms": 0})
        self.assertEqual(await h.call(Op.LAST_TURN_USAGE, agent), (None,) * 5)
        self.assertEqual(await h.call(Op.TOTAL_USAGE, agent), (None,) * 5)
        self.assertIsNone(await h.call(Op.LAST_RESPONSE, agent))
        first = await self.turn_ok(h.chat(agent, "hello there"))
        second = await self.turn_ok(h.chat(agent, "one two three"))
        self.assertEqual(first.text, "echo: hello there")
        self.assertEqual(await h.call(Op.LAST_RESPONSE, agent), "echo: one two three")
        last = second.outcome[1]  # type: ignore[index]
        self.assertEqual(await h.call(Op.LAST_TURN_USAGE, agent), last)
        self.assertEqual(await h.call(Op.TOTAL_USAGE, agent), (5, None, 7, 7, 19))
        self.assertEqual(await h.call(Op.COMPACTION_INDICES, agent), [])
        self.assertEqual(len(await h.call(Op.HISTORY, agent)), 4)

        self.assertIsNone(await h.call(Op.CLEAR_HISTORY, agent))
        self.assertEqual(await h.call(Op.HISTORY, agent), [])
        self.assertEqual(await h.call(Op.TURN_COUNT, agent), 0)
        self.assertIsNone(await h.call(Op.LAST_RESPONSE, agent))
        self.assertEqual(await h.call(Op.COMPACTION_INDICES, agent), [])
        self.assertEqual(await h.call(Op.TOTAL_USAGE, agent), (5, None, 7, 7, 19))
        self.assertEqual(await h.call(Op.LAST_TURN_USAGE, agent), last)

    async def test_a_saved_conversation_resumes_and_clears_on_disk_first(self) -> None:
        h = self.harness()
        saved = SavedFile()
        usage = (3, None, 4, None, 7)
        turns = [
            ("hello", None, "echo: hello"),
            (to_parts(Image(b"png", "image/png")), ToolMessages([("call", "result")]), "seen"),
        ]
        config = json.dumps({"model": "test-model", "extras": {"chunk_delay_ms": 0}})
        agent = h.next_agent
        h.next_agent += 1
        await h.call(Op.CREATE_AGENT, agent, (config, [], (saved, turns, usage, usage, [4])))
        self.assertEqual(await h.call(Op.TURN_COUNT, agent), 2)
        self.assertEqual(await h.call(Op.LAST_RESPONSE, agent), "seen")
        self.assertEqual(await h.call(Op.TOTAL_USAGE, agent), usage)
        self.assertEqual(await h.call(Op.COMPACTION_INDICES, agent), [4])
        history = await h.call(Op.HISTORY, agent)
        self.assertEqual(history[0], ("user", [("text", "hello")]))
        self.assertEqual(history[2][1][0][0], "image")
        self.assertIsInstance(history[3], ToolMessages)
        self.assertEqual(history[4], ("model", [("text", "seen")]))
        await self.turn_ok(h.chat(agent, "more"))
        self.assertEqual(await h.call(Op.TURN_COUNT, agent), 3)

        saved.fail_with = OSError("cannot clear saved conversation c.jsonl: disk full")
        with self.assertRaises(ReplyError) as failed:
            await h.call(Op.CLEAR_HISTORY, agent)
        self.assertIn("disk full", str(failed.exception))
        self.assertEqual(await h.call(Op.TURN_COUNT, agent), 3)  # nothing changed
        saved.fail_with = None
        self.assertIsNone(await h.call(Op.CLEAR_HISTORY, agent))
        self.assertEqual(saved.clears, 1)
        self.assertEqual(await h.call(Op.TURN_COUNT, agent), 0)
        self.assertEqual(await h.call(Op.TOTAL_USAGE, agent), _add(usage, (1, None, 2, 2, 5)))

    async def test_agent_hooks_answer_when_present(self) -> None:
        h = self.harness("agents:Hooked")
        agent = await h.create()
        await self.turn_ok(h.chat(agent, "x"))
        self.assertEqual(
            await h.call(Op.HISTORY, agent),
            [("system", [("text", "be nice")]), ("user", [("text", "hi")])],
        )
        self.assertEqual(await h.call(Op.TURN_COUNT, agent), 41)
        self.assertEqual(await h.call(Op.TOTAL_USAGE, agent), (None, None, None, None, 100))
        self.assertEqual(await h.call(Op.LAST_TURN_USAGE, agent), (7, None, None, None, None))
        self.assertEqual(await h.call(Op.LAST_RESPONSE, agent), "from the hook")
        self.assertEqual(await h.call(Op.COMPACTION_INDICES, agent), [2])
        self.assertIsNone(await h.call(Op.CLEAR_HISTORY, agent))
        self.assertEqual(
            h.agent(agent).calls,
            [
                "history",
                "turn_count",
                "total_usage",
                "last_turn_usage",
                "last_response",
                "compaction_indices",
                "clear_history",
            ],
        )


class ReferenceAgentTests(HarnessCase):
    async def test_events_of_a_turn(self) -> None:
        h = self.harness()
        schema = {
            "type": "object",
            "properties": {
                "s": {"type": "string"},
                "n": {"type": "integer"},
                "b": {"type": "boolean"},
                "a": {"type": "array"},
                "o": {"type": "object"},
                "x": {},
            },
        }
        agent = await h.create(
            tools=[{"name": "search", "description": "", "parameter_schema": {}}],
            response_schema=schema,
            extras={"chunk_delay_ms": 1},
        )
        text = "please search for cats"
        sink = await self.turn_ok(h.chat(agent, text))
        answer = "echo: " + text
        self.assertEqual(sink.text, answer)
        self.assertEqual(sink.chunks, split_words(answer))
        self.assertEqual(
            sink.events[:4],
            [
                ("step", 0, "received"),
                ("thought", "considering: " + text),
                ("tool_call", "call-1-0", "search", json.dumps({"query": text})),
                ("step", 1, "answering"),
            ],
        )
        self.assertEqual(sink.events[-1], ("usage", (4, None, 5, 5, 14)))
        self.assertEqual(
            json.loads(sink.outcome[2]),  # type: ignore[index]
            {"s": answer, "n": 1, "b": True, "a": [], "o": {}, "x": None},
        )
        second = await self.turn_ok(h.chat(agent, "no tools here"))
        self.assertNotIn("tool_call", second.kinds())
        self.assertEqual(json.loads(second.outcome[2])["n"], 2)  # type: ignore[index]

    async def test_plain_schema_and_media(self) -> None:
        h = self.harness()
        agent = await h.create(response_schema={"type": "object"}, extras={"chunk_delay_ms": 0})
        sink = await self.turn_ok(h.chat(agent, Image(b"abc", "image/png")))
        self.assertEqual(sink.text, "echo: [image image/png, 3 bytes]")
        self.assertEqual(json.loads(sink.outcome[2]), {"text": sink.text})  # type: ignore[index]

    async def test_a_long_prompt_takes_a_while(self) -> None:
        h = self.harness()
        agent = await h.create()
        prompt = " ".join(["word"] * 30)
        started = time.monotonic()
        await self.turn_ok(h.chat(agent, prompt))
        self.assertGreater(time.monotonic() - started, 0.25)

    def test_split_words_keeps_everything(self) -> None:
        for text in ("echo: a  b\nc ", "  lead", "", "one"):
            self.assertEqual("".join(split_words(text)), text)


if __name__ == "__main__":
    unittest.main()


def _add(a: tuple, b: tuple) -> tuple:
    return tuple(None if x is None and y is None else (x or 0) + (y or 0) for x, y in zip(a, b))
