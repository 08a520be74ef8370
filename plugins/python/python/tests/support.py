"""Drives a ``Bridge`` the way the Rust side does, with the fake ``_native`` objects."""

from __future__ import annotations

import asyncio
import json
import unittest
from typing import Any, Dict, List, Optional

from fake_native import Op, Reply, ReplyError, TurnSink  # first: it is agent_host._native

from agent_host._bridge import Bridge
from agent_host._content import Content, Text, to_parts

__all__ = ["Harness", "HarnessCase", "Op", "ReplyError", "TurnSink"]


class Harness:
    """One bridge plus id counters; every reply it hands out is checked at the end."""

    def __init__(self, agent: Optional[str] = None) -> None:
        self.bridge = Bridge({"agent": agent})
        self.next_agent = 1
        self.next_turn = 1
        self.replies: List[Reply] = []
        self.sinks: List[TurnSink] = []
        self.reports: List[Dict[str, Any]] = []

    def submit(
        self, op: int, agent_id: int, arg: Any = None, with_reply: bool = True
    ) -> Optional[Reply]:
        reply = Reply() if with_reply else None
        if reply is not None:
            self.replies.append(reply)
        self.bridge.submit(op, agent_id, arg, reply, None)
        return reply

    async def call(self, op: int, agent_id: int, arg: Any = None, timeout: float = 10.0) -> Any:
        reply = self.submit(op, agent_id, arg)
        assert reply is not None
        return await reply.result(timeout)

    async def create(self, model: str = "test-model", **config: Any) -> int:
        agent_id = self.next_agent
        self.next_agent += 1
        await self.call(Op.CREATE_AGENT, agent_id, json.dumps({"model": model, **config}))
        return agent_id

    async def create_with_tools(
        self, offered: List[str], model: str = "test-model", **config: Any
    ) -> int:
        """An agent offered the host tools named ``offered`` (as Rust sends them: the
        config's JSON and the names)."""
        agent_id = self.next_agent
        self.next_agent += 1
        config_json = json.dumps({"model": model, **config})
        await self.call(Op.CREATE_AGENT, agent_id, (config_json, offered))
        return agent_id

    def chat(
        self, agent_id: int, content: Content | str, sink: Optional[TurnSink] = None
    ) -> TurnSink:
        sink = sink or TurnSink()
        self.sinks.append(sink)
        turn_id = self.next_turn
        self.next_turn += 1
        sink.turn_id = turn_id
        sink.agent_id = agent_id
        sink.bridge = self.bridge
        if isinstance(content, str):
            content = Text(content)
        self.bridge.submit(Op.CHAT, agent_id, (turn_id, to_parts(content)), None, sink)
        return sink

    def send(self, agent_id: int, text: str, sink: Optional[TurnSink] = None) -> Reply:
        """``send`` as the Rust side submits it: a turn id and a sink nobody reads."""
        sink = sink or TurnSink()
        turn_id = self.next_turn
        self.next_turn += 1
        sink.turn_id = turn_id
        sink.agent_id = agent_id
        sink.bridge = self.bridge
        reply = Reply()
        self.replies.append(reply)
        self.bridge.submit(Op.SEND, agent_id, (turn_id, to_parts(Text(text))), reply, sink)
        return reply

    def agent(self, agent_id: int) -> Any:
        return self.bridge.runtime.agents[agent_id].agent

    def check_replies(self) -> None:
        for reply in self.replies:
            assert len(reply.answers) <= 1, f"a reply was answered twice: {reply.answers}"


class HarnessCase(unittest.IsolatedAsyncioTestCase):
    """Captures the loop's error reports and checks every reply was answered once."""

    harnesses: List[Harness]

    async def asyncSetUp(self) -> None:
        self.harnesses = []
        self.reports: List[Dict[str, Any]] = []
        loop = asyncio.get_running_loop()
        loop.slow_callback_duration = 2.0  # debug mode: creating 1000 agents is one step
        loop.set_exception_handler(
            lambda loop, context: self.reports.append(context)
        )

    def harness(self, agent: Optional[str] = None) -> Harness:
        harness = Harness(agent)
        self.harnesses.append(harness)
        return harness

    async def asyncTearDown(self) -> None:
        for harness in self.harnesses:
            harness.check_replies()
            for agent_id in list(harness.bridge.runtime.agents):
                harness.submit(Op.TRY_SHUTDOWN, agent_id, with_reply=False)
        await asyncio.sleep(0)
        self.assertEqual(self.reports, [], "unexpected error reports on the loop")

    async def turn_ok(self, sink: TurnSink, timeout: float = 10.0) -> TurnSink:
        outcome = await sink.wait(timeout)
        self.assertEqual(outcome[0], "complete", f"the turn failed: {outcome}")
        return sink

    async def turn_failed(self, sink: TurnSink, kind: str, timeout: float = 10.0) -> tuple:
        outcome = await sink.wait(timeout)
        self.assertEqual(outcome[0], "fail", f"the turn did not fail: {outcome}")
        self.assertEqual(outcome[1], kind, f"wrong error kind: {outcome}")
        return outcome
