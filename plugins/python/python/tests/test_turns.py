"""Turns: FIFO order, cancellation, errors, timeouts, coroutine agents, shutdown."""

from __future__ import annotations

import asyncio
import json
import unittest

from agent_host import Image, Multi, Text
from agent_host._content import to_parts
from support import HarnessCase, Op, ReplyError, TurnSink

ALL_OPS = [
    (Op.CHAT, None),
    (Op.CANCEL_TURN, 999),
    (Op.SEND, (1, [("text", "x")])),
    (Op.CANCEL, None),
    (Op.SHUTDOWN, None),
    (Op.DELETE, None),
    (Op.DISCONNECT, None),
    (Op.SIGNAL_IDLE, None),
    (Op.WAIT_FOR_IDLE, None),
    (Op.IS_IDLE, None),
    (Op.WAIT_FOR_WAKEUP, 0.01),
    (Op.HISTORY, None),
    (Op.TURN_COUNT, None),
    (Op.TOTAL_USAGE, None),
    (Op.LAST_TURN_USAGE, None),
    (Op.CLEAR_HISTORY, None),
    (Op.LAST_RESPONSE, None),
    (Op.COMPACTION_INDICES, None),
]


class LiveAgentTests(HarnessCase):
    """Which agents exist is the Rust side's to say: it submits calls only for agents
    in its live set (``PythonRuntime::live``; the conformance kit checks that every
    other id is AgentNotStarted). This side trusts it."""

    async def test_an_id_the_live_set_never_passes_is_a_bug_answered_never_raised(self) -> None:
        h = self.harness()
        for op, arg in ALL_OPS:
            with self.subTest(op=op):
                if op == Op.CHAT:
                    outcome = await self.turn_failed(h.chat(42, "hi"), "backend")
                    self.assertIn("KeyError: 42", outcome[2])
                elif op != Op.CANCEL_TURN:
                    with self.assertRaises(ReplyError) as caught:
                        await h.call(op, 42, arg)
                    self.assertEqual(caught.exception.kind, "backend")
                    self.assertIn("KeyError: 42", caught.exception.message)

    async def test_what_may_follow_an_agent_that_is_gone_is_quiet(self) -> None:
        h = self.harness("agents:Recorder")
        # try_shutdown after a create_agent whose caller stopped waiting, and failed.
        h.submit(Op.TRY_SHUTDOWN, 42, with_reply=False)
        agent = await h.create()
        sink = h.chat(agent, "hold")
        await asyncio.sleep(0.01)
        self.assertIsNone(await h.call(Op.SHUTDOWN, agent))
        await self.turn_failed(sink, "cancelled")
        self.assertNotIn(agent, h.bridge.runtime.agents)
        # The handle of a turn the shutdown ended goes away after it.
        h.submit(Op.CANCEL_TURN, agent, sink.turn_id, with_reply=False)  # type: ignore[attr-defined]
        await asyncio.sleep(0)  # the teardown checks that nothing was reported


class FifoTests(HarnessCase):
    async def test_three_queued_turns_run_one_at_a_time_in_order(self) -> None:
        h = self.harness("agents:Recorder")
        agent = await h.create(extras={"delay": 0.005})
        sinks = [h.chat(agent, f"turn {i}") for i in range(3)]
        self.assertFalse(await h.call(Op.IS_IDLE, agent))
        for sink in sinks:
            await self.turn_ok(sink)
            self.assertEqual(sink.text, "a b c")
        log = h.agent(agent).log
        self.assertEqual(
            log,
            [(event, f"turn {i}") for i in range(3) for event in ("start", "end")],
        )
        history = await h.call(Op.HISTORY, agent)
        self.assertEqual(
            [(role, parts[0][1]) for role, parts in history],
            [pair for i in range(3) for pair in (("user", f"turn {i}"), ("model", "a b c"))],
        )
        self.assertEqual(await h.call(Op.TURN_COUNT, agent), 3)

    async def test_turns_of_different_agents_overlap(self) -> None:
        h = self.harness("agents:Recorder")
        first, second = await h.create(), await h.create()
        held = h.chat(first, "hold")
        await self.turn_ok(h.chat(second, "quick"))
        self.assertFalse(held.ended)


class CancelTests(HarnessCase):
    async def test_cancel_ends_the_running_turn_and_queued_turns_still_run(self) -> None:
        h = self.harness("agents:Recorder")
        agent = await h.create()
        running = h.chat(agent, "hold")
        queued = h.chat(agent, "next")
        await asyncio.sleep(0.01)
        self.assertIsNone(await h.call(Op.CANCEL, agent))
        await self.turn_failed(running, "cancelled")
        await self.turn_ok(queued)
        self.assertEqual(
            h.agent(agent).log,
            [("start", "hold"), ("cancelled", "hold"), ("start", "next"), ("end", "next")],
        )
        # Only the completed turn changed the conversation.
        self.assertEqual(await h.call(Op.TURN_COUNT, agent), 1)
        self.assertEqual(len(await h.call(Op.HISTORY, agent)), 2)
        await self.turn_ok(h.chat(agent, "after"))

    async def test_cancel_right_after_chat_hits_that_turn(self) -> None:
        h = self.harness("agents:Recorder")
        agent = await h.create()
        sink = h.chat(agent, "quick")
        await h.call(Op.CANCEL, agent)
        await self.turn_failed(sink, "cancelled")
        self.assertEqual(h.agent(agent).log, [])
        self.assertEqual(await h.call(Op.TURN_COUNT, agent), 0)

    async def test_cancel_without_a_turn_is_a_no_op(self) -> None:
        h = self.harness("agents:Recorder")
        agent = await h.create()
        self.assertIsNone(await h.call(Op.CANCEL, agent))
        await self.turn_ok(h.chat(agent, "fine"))

    async def test_cancel_turn_of_a_queued_turn(self) -> None:
        h = self.harness("agents:Recorder")
        agent = await h.create()
        first = h.chat(agent, "first")
        queued = h.chat(agent, "queued")
        last = h.chat(agent, "last")
        h.submit(Op.CANCEL_TURN, agent, queued.turn_id, with_reply=False)  # type: ignore[attr-defined]
        await self.turn_failed(queued, "cancelled")
        await self.turn_ok(first)
        await self.turn_ok(last)
        self.assertNotIn(("start", "queued"), h.agent(agent).log)
        self.assertEqual(await h.call(Op.TURN_COUNT, agent), 2)

    async def test_cancel_turn_of_the_running_turn(self) -> None:
        h = self.harness("agents:Recorder")
        agent = await h.create()
        running = h.chat(agent, "hold")
        after = h.chat(agent, "after")
        await asyncio.sleep(0.01)
        running.drop()  # what Rust sees when the application drops the handle
        h.submit(Op.CANCEL_TURN, agent, running.turn_id, with_reply=False)  # type: ignore[attr-defined]
        await self.turn_failed(running, "cancelled")
        await self.turn_ok(after)
        self.assertIn(("cancelled", "hold"), h.agent(agent).log)
        # Unknown or finished turns: nothing happens.
        h.submit(Op.CANCEL_TURN, agent, running.turn_id, with_reply=False)  # type: ignore[attr-defined]
        h.submit(Op.CANCEL_TURN, agent, 12345, with_reply=False)

    async def test_a_turn_dropped_while_queued_never_runs(self) -> None:
        h = self.harness("agents:Recorder")
        agent = await h.create()
        first = h.chat(agent, "first")
        dropped = h.chat(agent, "dropped")
        dropped.drop()
        await self.turn_ok(first)
        await self.turn_failed(dropped, "cancelled")
        self.assertNotIn(("start", "dropped"), h.agent(agent).log)

    async def test_on_cancel_hook_runs_after_a_cancelled_turn(self) -> None:
        h = self.harness("agents:Hooked")
        agent = await h.create()
        running = h.chat(agent, "hold")
        await asyncio.sleep(0.01)
        await h.call(Op.CANCEL, agent)
        await self.turn_failed(running, "cancelled")
        await self.turn_ok(h.chat(agent, "next"))
        self.assertEqual(h.agent(agent).calls, ["on_cancel"])


class ErrorTests(HarnessCase):
    async def test_exceptions_map_to_kinds(self) -> None:
        h = self.harness("agents:Raiser")
        agent = await h.create()
        cases = {
            "value": ("backend", "ValueError: bad value in the agent", None),
            "quota": ("quota", "provider said slow down", 1.5),
            "agent": ("backend", "plain agent failure", None),
            "config": ("invalid_config", "the agent found its config lacking", None),
            "timeout": ("backend", "TimeoutError: the agent's own network timeout", None),
            "yield": ("backend", "unsupported type builtins.object", None),
            "none": ("backend", "unsupported type builtins.NoneType (None)", None),
            "args": ("backend", "ToolCall.args is not JSON-serializable", None),
        }
        for text, (kind, message, retry_after) in cases.items():
            with self.subTest(text=text):
                sink = h.chat(agent, text)
                outcome = await self.turn_failed(sink, kind)
                self.assertIn(message, outcome[2])
                self.assertEqual(outcome[3], retry_after)
                # Text written before the failure was handed over first, in order.
                self.assertEqual(sink.chunks, ["partial "])
                if text == "value" or text == "timeout":
                    self.assertIn("Traceback (most recent call last)", outcome[2])
                    self.assertIn("agents.py", outcome[2])
                if text in ("agent", "config", "quota"):
                    self.assertNotIn("Traceback", outcome[2])
        self.assertEqual(await h.call(Op.TURN_COUNT, agent), 0)
        self.assertEqual(await h.call(Op.HISTORY, agent), [])
        await self.turn_ok(h.chat(agent, "fine"))

    async def test_reference_trigger_words(self) -> None:
        h = self.harness()
        agent = await h.create(extras={"chunk_delay_ms": 0})
        outcome = await self.turn_failed(h.chat(agent, "please FAIL"), "backend")
        self.assertEqual(
            outcome[2], "reference agent: the message contains the trigger word FAIL"
        )
        outcome = await self.turn_failed(h.chat(agent, "over QUOTA"), "quota")
        self.assertEqual(outcome[3], 0.05)
        self.assertEqual(await h.call(Op.TURN_COUNT, agent), 0)


class CoroutineAgentTests(HarnessCase):
    async def test_a_coroutine_returning_a_str(self) -> None:
        h = self.harness("agents:Coro")
        agent = await h.create()
        sink = await self.turn_ok(h.chat(agent, "hi"))
        self.assertEqual(sink.text, "coro: hi")
        self.assertEqual(await h.call(Op.LAST_RESPONSE, agent), "coro: hi")
        outcome = await self.turn_failed(h.chat(agent, "not a str"), "backend")
        self.assertIn("must return the whole answer as a str", outcome[2])


class TaskFactoryTests(HarnessCase):
    async def test_turns_go_through_the_loops_task_factory(self) -> None:
        loop = asyncio.get_running_loop()
        made = []

        def factory(loop, coro, **kwargs):  # type: ignore[no-untyped-def]
            made.append(coro)
            return asyncio.Task(coro, loop=loop, **kwargs)

        h = self.harness("agents:Recorder")
        agent = await h.create()
        loop.set_task_factory(factory)
        try:
            await self.turn_ok(h.chat(agent, "one"))
        finally:
            loop.set_task_factory(None)
        self.assertEqual(len(made), 1)
        await self.turn_ok(h.chat(agent, "two"))  # and without one
        self.assertEqual(len(made), 1)


class EventTests(HarnessCase):
    async def test_every_event_kind_in_order(self) -> None:
        h = self.harness("agents:Steps")
        agent = await h.create()
        sink = await self.turn_ok(h.chat(agent, "go"))
        self.assertEqual(
            sink.events,
            [
                ("step", 0, "start"),
                ("text", "one "),
                ("text", "two "),
                ("thought", "hmm"),
                ("tool_call", "c1", "search", '{"q": ["x", 1]}'),
                ("text", "three"),
                ("usage", (1, None, None, None, None)),
                ("usage", (2, None, None, None, 2)),
            ],
        )
        self.assertEqual(sink.outcome, ("complete", (2, None, None, None, 2), '{"a": 2}'))
        self.assertEqual(await h.call(Op.LAST_TURN_USAGE, agent), (2, None, None, None, 2))
        outcome = await self.turn_failed(h.chat(agent, "bad step"), "backend")
        self.assertIn("Step.index", outcome[2])

    async def test_media_content_lands_in_history(self) -> None:
        h = self.harness("agents:Recorder")
        agent = await h.create()
        content = Multi([Text("look"), Image(b"\x00\x01", "image/png", "a dot")])
        await self.turn_ok(h.chat(agent, content))
        history = await h.call(Op.HISTORY, agent)
        self.assertEqual(history[0], ("user", to_parts(content)))
        self.assertEqual(history[1], ("model", [("text", "a b c")]))


class ShutdownTests(HarnessCase):
    async def test_shutdown_cancels_running_and_queued_turns(self) -> None:
        for how in (Op.SHUTDOWN, Op.DELETE, Op.TRY_SHUTDOWN):
            with self.subTest(how=how):
                h = self.harness("agents:Recorder")
                agent = await h.create()
                recorder = h.agent(agent)
                running = h.chat(agent, "hold")
                queued = h.chat(agent, "queued")
                idle_waiter = h.submit(Op.WAIT_FOR_IDLE, agent)
                wakeup_waiter = h.submit(Op.WAIT_FOR_WAKEUP, agent, 30.0)
                await asyncio.sleep(0.01)
                if how == Op.TRY_SHUTDOWN:
                    h.submit(how, agent, with_reply=False)
                else:
                    self.assertIsNone(await h.call(how, agent))
                    # The reply came after the running turn had ended.
                    self.assertTrue(running.ended)
                await self.turn_failed(running, "cancelled")
                await self.turn_failed(queued, "cancelled")
                self.assertEqual(recorder.log, [("start", "hold"), ("cancelled", "hold")])
                for waiter in (idle_waiter, wakeup_waiter):
                    assert waiter is not None
                    with self.assertRaises(ReplyError) as caught:
                        await waiter.result()
                    self.assertEqual(caught.exception.kind, "not_started")

    async def test_shutdown_and_delete_hooks(self) -> None:
        h = self.harness("agents:Hooked")
        first, second = await h.create(), await h.create()
        agent_one, agent_two = h.agent(first), h.agent(second)
        await h.call(Op.SHUTDOWN, first)
        await h.call(Op.DELETE, second)
        self.assertEqual(agent_one.calls, ["shutdown"])
        self.assertEqual(agent_two.calls, ["shutdown", "delete"])

    async def test_a_running_turn_gets_on_cancel_then_shutdown(self) -> None:
        h = self.harness("agents:Hooked")
        agent = await h.create()
        hooked = h.agent(agent)
        running = h.chat(agent, "hold")
        await asyncio.sleep(0.01)
        await h.call(Op.SHUTDOWN, agent)
        await self.turn_failed(running, "cancelled")
        self.assertEqual(hooked.calls, ["on_cancel", "shutdown"])

    async def test_ids_stay_unique_and_others_unaffected(self) -> None:
        h = self.harness("agents:Recorder")
        keep, gone = await h.create(), await h.create()
        await h.call(Op.DELETE, gone)
        await self.turn_ok(h.chat(keep, "still here"))
        with self.assertRaises(ReplyError):
            await h.call(Op.TURN_COUNT, gone)

    async def test_disconnect_keeps_the_agent_usable(self) -> None:
        h = self.harness("agents:Hooked")
        agent = await h.create()
        self.assertIsNone(await h.call(Op.DISCONNECT, agent))
        await self.turn_ok(h.chat(agent, "still usable"))
        self.assertEqual(h.agent(agent).calls, ["disconnect"])
        plain = self.harness("agents:Recorder")
        other = await plain.create()
        self.assertIsNone(await plain.call(Op.DISCONNECT, other))


if __name__ == "__main__":
    unittest.main()


class RobustnessTests(HarnessCase):
    async def test_submit_never_raises_on_garbage(self) -> None:
        h = self.harness("agents:Recorder")
        agent = await h.create()
        sink = TurnSink()
        h.bridge.submit(Op.CHAT, agent, "not a (turn_id, parts) pair", None, sink)
        outcome = await self.turn_failed(sink, "backend")
        self.assertIn("Traceback", outcome[2])
        sink = TurnSink()
        h.bridge.submit(Op.CHAT, agent, (1, [("sticker", b"", "x", None)]), None, sink)
        outcome = await self.turn_failed(sink, "backend")
        self.assertIn("unknown part kind 'sticker'", outcome[2])
        with self.assertRaises(ReplyError) as caught:
            await h.call(Op.SEND, agent, [])
        self.assertEqual(caught.exception.kind, "backend")
        with self.assertRaises(ReplyError) as caught:
            await h.call(Op.CREATE_AGENT, 99, None)
        self.assertEqual(caught.exception.kind, "invalid_config")
        with self.assertRaises(ReplyError) as caught:
            await h.call(Op.WAIT_FOR_WAKEUP, agent, "soon")
        self.assertEqual(caught.exception.kind, "backend")
        # No reply and no sink: reported on the loop, never raised.
        h.bridge.submit(Op.CHAT, agent, None, None, None)
        self.assertEqual(len(self.reports), 1)
        self.reports.clear()
        await self.turn_ok(h.chat(agent, "still fine"))

    async def test_a_raising_hook_is_a_backend_error(self) -> None:
        h = self.harness("agents:Hooked")
        agent = await h.create()
        hooked = h.agent(agent)
        # Replace the hook the runtime found with one that fails.
        def broken() -> int:
            raise KeyError("missing")
        h.bridge.runtime.agents[agent].hooks["turn_count"] = broken
        with self.assertRaises(ReplyError) as caught:
            await h.call(Op.TURN_COUNT, agent)
        self.assertEqual(caught.exception.kind, "backend")
        self.assertIn("KeyError", caught.exception.message)
        self.assertIn("Traceback", caught.exception.message)
        h.bridge.runtime.agents[agent].hooks["turn_count"] = lambda: "many"
        with self.assertRaises(ReplyError) as caught:
            await h.call(Op.TURN_COUNT, agent)
        self.assertIn("non-negative int", caught.exception.message)
        self.assertEqual(hooked.calls, [])

    async def test_the_documented_example_agent_works(self) -> None:
        import agent_host
        import sys
        import types

        doc = agent_host.__doc__ or ""
        start = doc.index("    import agent_host\n")
        end = doc.index("Point the plugin")
        source = "\n".join(line[4:] for line in doc[start:end].splitlines())
        module = types.ModuleType("ah_doc_example")
        exec(compile(source, "ah_doc_example", "exec"), module.__dict__)
        sys.modules["ah_doc_example"] = module
        try:
            h = self.harness("ah_doc_example:EchoAgent")
            agent = await h.create()
            sink = await self.turn_ok(h.chat(agent, "hello  world"))
            self.assertEqual(sink.chunks, ["hello ", "world "])
        finally:
            del sys.modules["ah_doc_example"]

    async def test_bridges_on_one_loop_share_one_flusher(self) -> None:
        first, second = self.harness("agents:Burst"), self.harness("agents:Burst")
        a, b = await first.create(extras={"chunks": 3}), await second.create(extras={"chunks": 3})
        await self.turn_ok(first.chat(a, "x"))
        await self.turn_ok(second.chat(b, "x"))
        self.assertIs(first.bridge.runtime.flusher, second.bridge.runtime.flusher)
