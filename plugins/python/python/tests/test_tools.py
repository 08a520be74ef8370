"""Host tools as Python agents call them: ``config.host_tools.call``, its events and
history, failures as ``ToolError``, calls at once, cancellation, the reference agent's
tool lines. The sink's tools are Python stand-ins for the Rust side (``fake_native``)."""

from __future__ import annotations

import asyncio
import json
import unittest
from typing import Any, Dict

from agent_host import AgentConfig, Tool, ToolError, Tools
from agent_host.reference import argument_names, shown, tool_requests
from fake_native import ToolMessages
from support import HarnessCase, Op, ReplyError, TurnSink


async def echo(args: Dict[str, Any]) -> Any:
    return {"echoed": args}


async def fails(args: Dict[str, Any]) -> Any:
    raise RuntimeError("no marmalade left")


class ToolsObjectTests(unittest.TestCase):
    def test_names_and_declarations(self) -> None:
        tools = Tools(["weather"], [Tool("weather", "today's weather", {"type": "object"})])
        self.assertIn("weather", tools)
        self.assertNotIn("clock", tools)
        self.assertEqual(list(tools), ["weather"])
        self.assertEqual(tools.names, ("weather",))
        self.assertEqual(tools.declaration("weather").description, "today's weather")
        self.assertIsNone(tools.declaration("clock"))

    def test_a_config_from_json_has_no_host_tools(self) -> None:
        self.assertEqual(len(AgentConfig.from_json('{"model": "m"}').host_tools), 0)


class CallTests(HarnessCase):
    async def test_a_call_streams_its_events_answers_and_is_in_the_history(self) -> None:
        h = self.harness("agents:ToolUser")
        agent = await h.create_with_tools(["echo"])
        self.assertEqual(h.agent(agent).tools.names, ("echo",))
        sink = TurnSink(tools={"echo": echo})
        await self.turn_ok(h.chat(agent, 'echo {"city": "Paris"}', sink))
        self.assertEqual(sink.text, 'ok {"echoed": {"city": "Paris"}}')
        self.assertEqual(
            [event[0] for event in sink.events[:2]], ["tool_call", "tool_result"]
        )
        self.assertEqual(sink.events[0][1], sink.events[1][1])  # same id
        self.assertEqual(json.loads(sink.events[0][3]), {"city": "Paris"})
        history = await h.call(Op.HISTORY, agent)
        self.assertEqual(history[0][0], "user")
        self.assertIsInstance(history[1], ToolMessages)
        self.assertEqual(history[2], ("model", [("text", sink.text)]))
        # A turn without calls keeps the plain pair.
        await self.turn_ok(h.chat(agent, "", TurnSink()))
        history = await h.call(Op.HISTORY, agent)
        self.assertEqual([entry[0] for entry in history[3:]], ["user", "model"])

    async def test_a_send_turn_calls_tools_and_records_them_like_a_chat_turn(self) -> None:
        h = self.harness("agents:ToolUser")
        agent = await h.create_with_tools(["echo"])
        sink = TurnSink(tools={"echo": echo})
        self.assertIsNone(await h.send(agent, 'echo {"city": "Oslo"}', sink).result())
        await self.turn_ok(sink)
        self.assertEqual(sink.text, 'ok {"echoed": {"city": "Oslo"}}')
        self.assertEqual([event[0] for event in sink.events[:2]], ["tool_call", "tool_result"])
        await h.call(Op.WAIT_FOR_IDLE, agent)
        history = await h.call(Op.HISTORY, agent)
        self.assertEqual([type(entry) for entry in history[1:2]], [ToolMessages])
        self.assertEqual(history[2], ("model", [("text", sink.text)]))
        self.assertEqual(await h.call(Op.TURN_COUNT, agent), 1)

    async def test_keyword_arguments_become_the_object(self) -> None:
        h = self.harness("agents:Recorder")
        agent = await h.create_with_tools(["echo"])
        tools = h.bridge.runtime.agents[agent].tools  # the Recorder keeps no config
        sink = h.chat(agent, "hold", TurnSink(tools={"echo": echo}))
        await asyncio.sleep(0.01)
        self.assertEqual(await tools.call("echo", city="Paris"), {"echoed": {"city": "Paris"}})
        with self.assertRaises(TypeError):
            await tools.call("echo", {"a": 1}, b=2)
        with self.assertRaises(TypeError):
            await tools.call("echo", ["not", "a", "dict"])  # type: ignore[arg-type]
        with self.assertRaises(TypeError):
            await tools.call("echo", value=object())
        await h.call(Op.CANCEL, agent)
        await self.turn_failed(sink, "cancelled")

    async def test_failures_and_unknown_tools_are_tool_errors(self) -> None:
        h = self.harness("agents:ToolUser")
        agent = await h.create_with_tools(["fails"])
        sink = h.chat(agent, "fails {}\nghost {}", TurnSink(tools={"fails": fails}))
        await self.turn_ok(sink)
        self.assertEqual(
            sink.text.splitlines(),
            ["error no marmalade left", "error no tool named `ghost`"],
        )
        errors = h.agent(agent).errors
        self.assertEqual([error.tool for error in errors], ["fails", "ghost"])

    async def test_calls_run_at_once(self) -> None:
        running = most = 0

        async def slow(args: Dict[str, Any]) -> Any:
            nonlocal running, most
            running += 1
            most = max(most, running)
            await asyncio.sleep(0.05)
            running -= 1
            return args["side"]

        h = self.harness("agents:ToolUser")
        agent = await h.create_with_tools(["a", "b"])
        sink = TurnSink(tools={"a": slow, "b": slow})
        h.chat(agent, 'a {"side": "left"}\nb {"side": "right"}', sink)
        await self.turn_ok(sink)
        self.assertEqual(most, 2)
        self.assertEqual(sink.text, 'ok "left"\nok "right"')

    async def test_cancelling_the_turn_drops_the_pending_call(self) -> None:
        started = asyncio.Event()

        async def forever(args: Dict[str, Any]) -> Any:
            started.set()
            await asyncio.sleep(60)

        h = self.harness("agents:ToolUser")
        agent = await h.create_with_tools(["forever"])
        sink = h.chat(agent, "forever {}", TurnSink(tools={"forever": forever}))
        await asyncio.wait_for(started.wait(), 5)
        await h.call(Op.CANCEL, agent)
        await self.turn_failed(sink, "cancelled")
        self.assertEqual(sink.calls_aborted, [0])
        self.assertEqual(sink.calls_pending, {})

    async def test_outside_a_turn_a_call_is_a_tool_error(self) -> None:
        h = self.harness("agents:ToolUser")
        agent = await h.create_with_tools(["echo"])
        with self.assertRaises(ToolError) as caught:
            await h.agent(agent).tools.call("echo")
        self.assertIn("only during a chat turn", caught.exception.message)

    async def test_an_answer_for_a_gone_agent_is_quiet(self) -> None:
        h = self.harness("agents:ToolUser")
        h.bridge.submit(Op.TOOL_DONE, 77, (1, 0, True, None), None, None)
        agent = await h.create_with_tools([])
        h.bridge.submit(Op.TOOL_DONE, agent, (1, 0, True, None), None, None)
        await asyncio.sleep(0)


class ReferenceAgentToolTests(HarnessCase):
    async def test_tool_lines_call_the_declared_tools_at_once(self) -> None:
        async def calculator(args: Dict[str, Any]) -> Any:
            self.assertEqual(args, {"expression": "6*7"})
            return 42

        tools = [
            {"name": "calculator", "parameter_schema": {"properties": {"expression": {}}}},
            {"name": "kit_echo", "parameter_schema": {"properties": {"input": {}, "other": {}}}},
            {"name": "kit_ghost"},
        ]
        h = self.harness()
        agent = await h.create_with_tools(["calculator", "kit_echo"], tools=tools)
        sink = TurnSink(tools={"calculator": calculator, "kit_echo": echo})
        await self.turn_ok(h.chat(agent, "calculator: 6*7\nkit_echo: jam\nkit_ghost: boo", sink))
        self.assertEqual(
            sink.text.splitlines(),
            [
                "calculator: 42",
                'kit_echo: {"echoed":{"input":"jam"}}',
                "kit_ghost: error: no tool named `kit_ghost`",
            ],
        )
        kinds = sink.kinds()
        self.assertEqual(kinds.count("tool_call"), 3)
        self.assertEqual(kinds.count("tool_result"), 3)

    async def test_without_tool_lines_it_echoes(self) -> None:
        h = self.harness()
        agent = await h.create_with_tools([], tools=[{"name": "calculator"}])
        sink = await self.turn_ok(h.chat(agent, "what is a calculator", TurnSink()))
        self.assertEqual(sink.text, "echo: what is a calculator")
        self.assertIn("tool_call", sink.kinds())  # reported, not run (as before)

    def test_helpers(self) -> None:
        calc = {"name": "calc", "parameter_schema": {"properties": {"x": {}}}}
        config = AgentConfig.from_json({"model": "m", "tools": [calc, {"name": "clock"}]})
        self.assertEqual(argument_names(config), {"calc": "x", "clock": "input"})
        self.assertEqual(
            tool_requests("calc: 1+1\nnot a tool: x\nclock:", argument_names(config)),
            [("calc", {"x": "1+1"}), ("clock", {"input": ""})],
        )
        self.assertEqual(shown("noon"), "noon")
        self.assertEqual(shown({"a": [1, 2]}), '{"a":[1,2]}')


if __name__ == "__main__":
    unittest.main()
