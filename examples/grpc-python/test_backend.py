"""Tests of backend.py as the host meets it: a child process told where to listen by
AGENT_HOST_LISTEN, its handshake line read from stdout, then spoken to over gRPC with
a small client of the protocol's own (the Rust client is RemoteRuntime).

Run: target/python-venv/bin/python -m unittest discover -s examples/grpc-python
The full conformance kit is `agent-host check --backend NAME` (see README.md).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path
from typing import Any, Awaitable, Callable, Optional

HERE = Path(__file__).resolve().parent
BACKEND = HERE / "backend.py"
sys.path.append(str(HERE.parent.parent / "proto"))

import grpc  # noqa: E402
from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: E402

pb, pb_grpc = grpc.protos_and_services("agent_host/runtime/v1/runtime.proto")

#: About thirty words: at the default 20 ms a chunk its answer takes ~600 ms.
LONG = " ".join(f"word{i}" for i in range(30))
PATIENCE = 10.0


def start_backend(
    directory: str, options: Optional[dict] = None, **env: str
) -> tuple[subprocess.Popen, str]:
    """Starts backend.py as the host does; returns it and its handshake line."""
    socket = os.path.join(directory, "plugin.sock")
    environment = dict(os.environ, AGENT_HOST_LISTEN=f"unix:{socket}", AGENT_HOST_PLUGIN="echo-py")
    environment.pop("AGENT_HOST_OPTIONS", None)
    if options is not None:
        environment["AGENT_HOST_OPTIONS"] = json.dumps(options)
    environment.update(env)
    process = subprocess.Popen(
        [sys.executable, str(BACKEND)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment,
        cwd=directory,
    )
    line = process.stdout.readline().decode()
    return process, line


class Turn:
    """What the client saw of one chat turn."""

    def __init__(self, turn_id: int) -> None:
        self.id = turn_id
        self.events: list[tuple[str, Any]] = []
        #: How many TurnEvents items carried its events (streaming means several).
        self.batches = 0
        self.first_event = asyncio.Event()
        self.end: asyncio.Future = asyncio.get_running_loop().create_future()

    @property
    def chunks(self) -> list[str]:
        return [value for kind, value in self.events if kind == "text"]

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.events]


class Client:
    """One session on the backend: one runtime, with calls matched to replies by id."""

    def __init__(self, address: str, protocol: Optional[str] = "1.1.0") -> None:
        self.channel = grpc.aio.insecure_channel(address)
        self.stub = pb_grpc.RuntimeStub(self.channel)
        self._out: asyncio.Queue = asyncio.Queue()
        self._ids = iter(range(1, 1 << 62))
        self._calls: dict[int, asyncio.Future] = {}
        self.turns: dict[int, Turn] = {}
        #: Answers the backend's tool calls: request -> ToolReply output fields.
        self.tools: Optional[Callable[[Any], Awaitable[dict]]] = None
        self.tool_requests: list[Any] = []
        self.tool_calls_dropped: list[int] = []
        self._tool_tasks: dict[int, asyncio.Task] = {}
        self.text_runs_seen = False
        self.closed = asyncio.Event()
        metadata = (("agent-host-protocol", protocol),) if protocol else ()
        self._session = self.stub.Session(self._requests(), metadata=metadata)
        self._reader = asyncio.create_task(self._read())

    async def _requests(self):
        while True:
            items = [await self._out.get()]
            while not self._out.empty():
                items.append(self._out.get_nowait())
            if None in items:
                return
            yield pb.ClientMessage(items=items)

    async def _read(self) -> None:
        try:
            async for message in self._session:
                for item in message.items:
                    self._dispatch(item)
        except grpc.aio.AioRpcError:
            pass
        finally:
            self.closed.set()

    def _dispatch(self, item: Any) -> None:
        kind = item.WhichOneof("item")
        if kind == "reply":
            waiting = self._calls.pop(item.reply.id, None)
            if waiting is not None and not waiting.done():
                waiting.set_result(item.reply)
        elif kind == "turn_events":
            turn = self.turns[item.turn_events.turn_id]
            turn.batches += 1
            for event in item.turn_events.events:
                event_kind = event.WhichOneof("kind")
                if event_kind == "text_run":
                    self.text_runs_seen = True
                    data, start = event.text_run.text.encode(), 0
                    for end in event.text_run.ends:
                        turn.events.append(("text", data[start:end].decode()))
                        start = end
                else:
                    turn.events.append((event_kind, getattr(event, event_kind)))
            turn.first_event.set()
        elif kind == "turn_end":
            turn = self.turns[item.turn_end.turn_id]
            if not turn.end.done():
                turn.end.set_result(item.turn_end)
        elif kind == "tool_call":
            request = item.tool_call
            self.tool_requests.append(request)
            self._tool_tasks[request.tool_call_id] = asyncio.create_task(self._run_tool(request))
        elif kind == "cancel_tool_call":
            self.tool_calls_dropped.append(item.cancel_tool_call)
            running = self._tool_tasks.pop(item.cancel_tool_call, None)
            if running is not None:
                running.cancel()

    async def _run_tool(self, request: Any) -> None:
        output = await self.tools(request) if self.tools else {"error": "no tools here"}
        self._tool_tasks.pop(request.tool_call_id, None)
        self.send(tool_reply=pb.ToolReply(tool_call_id=request.tool_call_id, **output))

    def send(self, **item: Any) -> None:
        self._out.put_nowait(pb.ClientItem(**item))

    def next_id(self) -> int:
        return next(self._ids)

    async def call(self, call_id: Optional[int] = None, **method: Any) -> Any:
        """Sends one call and returns its Reply."""
        call_id = call_id or self.next_id()
        answered = asyncio.get_running_loop().create_future()
        self._calls[call_id] = answered
        self.send(call=pb.Call(id=call_id, **method))
        return await asyncio.wait_for(answered, PATIENCE)

    async def ok(self, **method: Any) -> Any:
        """A call that must succeed: the value of its outcome."""
        reply = await self.call(**method)
        outcome = reply.WhichOneof("outcome")
        if outcome == "error":
            raise AssertionError(f"{method} failed: {reply.error}")
        return getattr(reply, outcome)

    async def create_agent(self, model: str = "test-model", tools=(), offered=(), **config: Any) -> int:
        definitions = [
            pb.ToolDefinition(
                name=name,
                parameter_schema_json='{"type":"object","properties":{"input":{"type":"string"}}}',
            )
            for name in tools
        ]
        create = pb.CreateAgent(
            config=pb.AgentConfig(model=model, tools=definitions, **config), tool_names=list(offered)
        )
        return await self.ok(create_agent=create)

    async def chat(self, agent_id: int, text: str) -> Turn:
        call_id = self.next_id()
        turn = self.turns[call_id] = Turn(call_id)
        chat = pb.Chat(agent_id=agent_id, content=pb.Content(text=text))
        reply = await self.call(call_id, chat=chat)
        if reply.WhichOneof("outcome") != "done":
            raise AssertionError(f"chat failed: {reply}")
        return turn

    async def ended(self, turn: Turn) -> Any:
        return await asyncio.wait_for(turn.end, PATIENCE)

    async def close(self) -> None:
        self._out.put_nowait(None)
        try:
            await asyncio.wait_for(self.closed.wait(), PATIENCE)
        finally:
            self._reader.cancel()
            await self.channel.close()


def agent(agent_id: int) -> Any:
    return pb.Agent(agent_id=agent_id)


def history_shape(history: Any) -> list[tuple[str, str]]:
    return [(message.role, message.content.text) for message in history.messages]


class ServedBackend(unittest.IsolatedAsyncioTestCase):
    """Tests on one backend process; each test has a session (a runtime) of its own."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.directory = tempfile.mkdtemp(prefix="echo-py-test-")
        cls.process, cls.handshake = start_backend(cls.directory)
        cls.address = f"unix:{os.path.join(cls.directory, 'plugin.sock')}"

    @classmethod
    def tearDownClass(cls) -> None:
        cls.process.stdin.close()
        cls.process.wait(timeout=PATIENCE)
        cls.process.stdout.close()
        cls.process.stderr.close()
        shutil.rmtree(cls.directory, ignore_errors=True)

    async def asyncSetUp(self) -> None:
        self.client = Client(self.address)

    async def asyncTearDown(self) -> None:
        await self.client.close()

    async def test_handshake_line_rpc_and_health(self) -> None:
        self.assertEqual(
            self.handshake, f"agent-host-serve|1.1.0|0.2.4|{self.address}|grpc\n"
        )
        reply = await self.client.stub.Handshake(pb.HandshakeRequest(protocol_version="1.1.0"))
        self.assertEqual(
            (reply.protocol_version, reply.api_version, reply.backend),
            ("1.1.0", "0.2.4", "echo-py"),
        )
        self.assertFalse(reply.HasField("host_tools_unavailable"))
        with self.assertRaises(grpc.aio.AioRpcError) as refused:
            await self.client.stub.Handshake(pb.HandshakeRequest(protocol_version="2.0.0"))
        self.assertEqual(refused.exception.code(), grpc.StatusCode.FAILED_PRECONDITION)
        health = health_pb2_grpc.HealthStub(self.client.channel)
        status = await health.Check(
            health_pb2.HealthCheckRequest(service="agent_host.runtime.v1.Runtime")
        )
        self.assertEqual(status.status, health_pb2.HealthCheckResponse.SERVING)

    async def test_an_empty_model_is_invalid_config(self) -> None:
        reply = await self.client.call(create_agent=pb.CreateAgent(config=pb.AgentConfig(model="")))
        self.assertEqual(reply.error.kind, pb.INVALID_CONFIG)
        first, second = await self.client.create_agent(), await self.client.create_agent()
        self.assertNotEqual(first, second)

    async def test_chat_streams_the_echo_word_by_word(self) -> None:
        agent_id = await self.client.create_agent()
        started = time.monotonic()
        turn = await self.client.chat(agent_id, "hello there world")
        end = await self.client.ended(turn)
        self.assertGreaterEqual(time.monotonic() - started, 0.06, "three pauses of 20 ms")
        self.assertEqual(turn.chunks, ["echo: ", "hello ", "there ", "world"])
        self.assertGreater(turn.batches, 1, "the chunks arrived as they were written")
        self.assertTrue(self.client.text_runs_seen, "a 1.1 client gets text runs")
        self.assertEqual(end.result.text, "echo: hello there world")
        self.assertEqual(turn.kinds()[:3], ["step", "thought", "step"])
        self.assertEqual(turn.kinds()[-1], "usage")
        usage = end.result.usage
        self.assertEqual((usage.prompt_token_count, usage.candidates_token_count), (3, 4))

    async def test_an_old_client_gets_a_text_event_per_chunk(self) -> None:
        old = Client(self.address, protocol=None)
        try:
            agent_id = await old.create_agent()
            turn = await old.chat(agent_id, "two words")
            end = await old.ended(turn)
            self.assertEqual(turn.chunks, ["echo: ", "two ", "words"])
            self.assertFalse(old.text_runs_seen)
            self.assertEqual(end.result.text, "echo: two words")
        finally:
            await old.close()

    async def test_turns_run_one_at_a_time_in_call_order(self) -> None:
        agent_id = await self.client.create_agent()
        turns = [
            await self.client.chat(agent_id, LONG),
            await self.client.chat(agent_id, "second"),
            await self.client.chat(agent_id, "third"),
        ]
        self.assertFalse(await self.client.ok(is_idle=agent(agent_id)))
        order = []
        for turn in turns:
            turn.end.add_done_callback(lambda _, turn=turn: order.append(turn.id))
        for turn in turns:
            await self.client.ended(turn)
        self.assertEqual(order, [turn.id for turn in turns])
        await self.client.ok(wait_for_idle=agent(agent_id))
        history = await self.client.ok(history=agent(agent_id))
        self.assertEqual(
            history_shape(history),
            [
                ("user", LONG), ("model", f"echo: {LONG}"),
                ("user", "second"), ("model", "echo: second"),
                ("user", "third"), ("model", "echo: third"),
            ],
        )

    async def test_cancel_ends_the_running_turn_and_leaves_the_queued_one(self) -> None:
        agent_id = await self.client.create_agent()
        running = await self.client.chat(agent_id, LONG)
        queued = await self.client.chat(agent_id, "queued")
        await asyncio.wait_for(running.first_event.wait(), PATIENCE)
        await self.client.ok(cancel=agent(agent_id))
        self.assertEqual((await self.client.ended(running)).error.kind, pb.CANCELLED)
        self.assertEqual((await self.client.ended(queued)).result.text, "echo: queued")
        await self.client.ok(wait_for_idle=agent(agent_id))
        history = await self.client.ok(history=agent(agent_id))
        self.assertEqual(history_shape(history), [("user", "queued"), ("model", "echo: queued")])
        # With nothing running, cancel is a no-op.
        await self.client.ok(cancel=agent(agent_id))

    async def test_a_cancelled_queued_turn_never_runs(self) -> None:
        agent_id = await self.client.create_agent()
        running = await self.client.chat(agent_id, LONG)
        queued = await self.client.chat(agent_id, "never")
        self.client.send(cancel_turn=queued.id)
        end = await self.client.ended(queued)
        self.assertEqual(end.error.kind, pb.CANCELLED)
        self.assertFalse(running.end.done(), "the running turn goes on")
        self.assertEqual(queued.events, [], "it never started")
        await self.client.ended(running)
        await self.client.ok(wait_for_idle=agent(agent_id))
        self.assertEqual(await self.client.ok(turn_count=agent(agent_id)), 1)

    async def test_send_queues_a_turn_and_wakes_the_waiter(self) -> None:
        agent_id = await self.client.create_agent()
        waiting = asyncio.create_task(
            self.client.ok(wait_for_wakeup=pb.WaitForWakeup(agent_id=agent_id, timeout_ms=10_000))
        )
        await asyncio.sleep(0.1)
        started = time.monotonic()
        await self.client.ok(send=pb.Chat(agent_id=agent_id, content=pb.Content(text="wake up")))
        self.assertTrue(await waiting)
        self.assertLess(time.monotonic() - started, 1.0)
        quiet = await self.client.ok(wait_for_wakeup=pb.WaitForWakeup(agent_id=agent_id, timeout_ms=200))
        self.assertFalse(quiet, "a wakeup is reported once")
        await self.client.ok(wait_for_idle=agent(agent_id))
        history = await self.client.ok(history=agent(agent_id))
        self.assertEqual(history_shape(history), [("user", "wake up"), ("model", "echo: wake up")])

    async def test_signal_idle_lasts_until_the_next_turn(self) -> None:
        agent_id = await self.client.create_agent()
        running = await self.client.chat(agent_id, LONG)
        self.assertFalse(await self.client.ok(is_idle=agent(agent_id)))
        await self.client.ok(signal_idle=agent(agent_id))
        self.assertTrue(await self.client.ok(is_idle=agent(agent_id)))
        await self.client.ok(wait_for_idle=agent(agent_id))
        await self.client.ended(running)
        following = await self.client.chat(agent_id, LONG)
        self.assertFalse(await self.client.ok(is_idle=agent(agent_id)))
        await self.client.ended(following)

    async def test_conversation_state(self) -> None:
        agent_id = await self.client.create_agent()
        self.assertFalse((await self.client.ok(last_response=agent(agent_id))).HasField("text"))
        empty = await self.client.ok(last_turn_usage=agent(agent_id))
        self.assertFalse(empty.HasField("total_token_count"))
        totals = 0
        for text in ("one two", "three four five"):
            end = await self.client.ended(await self.client.chat(agent_id, text))
            totals += end.result.usage.total_token_count
            self.assertEqual(await self.client.ok(last_turn_usage=agent(agent_id)), end.result.usage)
        await self.client.ok(wait_for_idle=agent(agent_id))
        self.assertEqual(await self.client.ok(turn_count=agent(agent_id)), 2)
        self.assertEqual(
            (await self.client.ok(total_usage=agent(agent_id))).total_token_count, totals
        )
        self.assertEqual(
            (await self.client.ok(last_response=agent(agent_id))).text, "echo: three four five"
        )
        self.assertEqual(list((await self.client.ok(compaction_indices=agent(agent_id))).indices), [])
        self.assertFalse((await self.client.ok(conversation_id=agent(agent_id))).HasField("text"))
        await self.client.ok(disconnect=agent(agent_id))
        await self.client.ok(clear_history=agent(agent_id))
        self.assertEqual(history_shape(await self.client.ok(history=agent(agent_id))), [])
        self.assertEqual(await self.client.ok(turn_count=agent(agent_id)), 0)
        self.assertFalse((await self.client.ok(last_response=agent(agent_id))).HasField("text"))
        self.assertEqual(
            (await self.client.ok(total_usage=agent(agent_id))).total_token_count,
            totals,
            "clear_history keeps the usage totals",
        )

    async def test_a_failing_prompt_fails_the_turn_and_changes_nothing(self) -> None:
        agent_id = await self.client.create_agent()
        end = await self.client.ended(await self.client.chat(agent_id, "please FAIL"))
        self.assertEqual(end.error.kind, pb.BACKEND)
        self.assertIn("FAIL", end.error.message)
        await self.client.ok(wait_for_idle=agent(agent_id))
        self.assertEqual(await self.client.ok(turn_count=agent(agent_id)), 0)

    async def test_unknown_and_shut_down_agents_are_not_started(self) -> None:
        agent_id = await self.client.create_agent()
        running = await self.client.chat(agent_id, LONG)
        queued = await self.client.chat(agent_id, "queued")
        await self.client.ok(shutdown_agent=agent(agent_id))
        self.assertEqual((await self.client.ended(running)).error.kind, pb.CANCELLED)
        self.assertEqual((await self.client.ended(queued)).error.kind, pb.CANCELLED)
        for dead in (agent_id, agent_id + 1000):
            for method in ("history", "turn_count", "is_idle", "cancel", "wait_for_idle", "delete"):
                reply = await self.client.call(**{method: agent(dead)})
                self.assertEqual(
                    (reply.error.kind, reply.error.agent_id), (pb.AGENT_NOT_STARTED, dead), method
                )
            reply = await self.client.call(chat=pb.Chat(agent_id=dead, content=pb.Content(text="x")))
            self.assertEqual(reply.error.kind, pb.AGENT_NOT_STARTED)

    async def test_a_tool_call_round_trip(self) -> None:
        async def kit_echo(request: Any) -> dict:
            return {"output_json": json.dumps({"echoed": json.loads(request.args_json)})}

        self.client.tools = kit_echo
        agent_id = await self.client.create_agent(tools=["kit_echo", "kit_ghost"], offered=["kit_echo"])
        turn = await self.client.chat(agent_id, "kit_echo: marmalade\nkit_ghost: boo")
        end = await self.client.ended(turn)
        [request] = self.client.tool_requests
        self.assertEqual((request.name, json.loads(request.args_json)), ("kit_echo", {"input": "marmalade"}))
        self.assertEqual(request.tools_id, 1, "the id of the CreateAgent call")
        self.assertEqual(
            end.result.text,
            'kit_echo: {"echoed":{"input":"marmalade"}}\n'
            "kit_ghost: error: no tool named `kit_ghost` (tools: kit_echo)",
        )
        calls = [value for kind, value in turn.events if kind == "tool_call"]
        results = [value for kind, value in turn.events if kind == "tool_result"]
        self.assertEqual([call.id for call in calls], ["call-1-0", "call-1-1"])
        self.assertEqual(sorted(result.id for result in results), ["call-1-0", "call-1-1"])
        await self.client.ok(wait_for_idle=agent(agent_id))
        history = await self.client.ok(history=agent(agent_id))
        roles = [message.role for message in history.messages]
        self.assertEqual(roles, ["user", "model", "tool", "model", "tool", "model"])
        self.assertEqual(history.messages[1].tool_calls[0].name, "kit_echo")
        self.assertEqual(history.messages[2].tool_result.name, "kit_echo")

    async def test_cancelling_a_turn_drops_its_pending_tool_call(self) -> None:
        started = asyncio.Event()

        async def forever(request: Any) -> dict:
            started.set()
            await asyncio.Event().wait()
            return {}

        self.client.tools = forever
        agent_id = await self.client.create_agent(tools=["kit_forever"], offered=["kit_forever"])
        turn = await self.client.chat(agent_id, "kit_forever: wait")
        await asyncio.wait_for(started.wait(), PATIENCE)
        await self.client.ok(cancel=agent(agent_id))
        self.assertEqual((await self.client.ended(turn)).error.kind, pb.CANCELLED)
        await asyncio.sleep(0.05)
        self.assertEqual(self.client.tool_calls_dropped, [self.client.tool_requests[0].tool_call_id])

    async def test_quota_backoff_is_waited_out_and_grows(self) -> None:
        started = time.monotonic()
        await self.client.ok(wait_for_quota=pb.Nothing())
        self.assertLess(time.monotonic() - started, 0.5)
        waits = []
        for _ in range(2):
            started = time.monotonic()
            await self.client.ok(record_quota_hit=pb.RecordQuotaHit(retry_after_ms=100))
            await self.client.ok(wait_for_quota=pb.Nothing())
            waits.append(time.monotonic() - started)
        self.assertGreaterEqual(waits[0], 0.1)
        self.assertGreater(waits[1], waits[0])
        other = Client(self.address)
        try:
            started = time.monotonic()
            await other.ok(wait_for_quota=pb.Nothing())
            self.assertLess(time.monotonic() - started, 0.5, "each session has its own backoff")
        finally:
            await other.close()


class Lifecycle(unittest.IsolatedAsyncioTestCase):
    """How the process starts and stops."""

    def setUp(self) -> None:
        self.directory = tempfile.mkdtemp(prefix="echo-py-test-")
        self.addCleanup(shutil.rmtree, self.directory, True)

    def start(self, **kwargs: Any) -> tuple[subprocess.Popen, str]:
        process, line = start_backend(self.directory, **kwargs)

        def reap() -> None:
            if process.poll() is None:
                process.kill()
            process.wait()
            for pipe in (process.stdin, process.stdout, process.stderr):
                pipe.close()

        self.addCleanup(reap)
        return process, line

    async def stops_on(self, stop: Callable[[subprocess.Popen], None]) -> None:
        """A turn running when the backend is told to stop ends CANCELLED, and the
        process exits 0 and removes its socket."""
        # Started in a thread: reading the handshake line blocks.
        process, line = await asyncio.to_thread(self.start, options={"chunk_delay_ms": 50})
        address = line.split("|")[3]
        client = Client(address)
        try:
            agent_id = await client.create_agent()
            turn = await client.chat(agent_id, LONG)
            await asyncio.wait_for(turn.first_event.wait(), PATIENCE)
            stop(process)
            self.assertEqual((await client.ended(turn)).error.kind, pb.CANCELLED)
            await asyncio.wait_for(client.closed.wait(), PATIENCE)
        finally:
            client._reader.cancel()
            await client.channel.close()
        returncode = await asyncio.to_thread(process.wait, PATIENCE)
        self.assertEqual(returncode, 0, process.stderr.read().decode())
        self.assertFalse(os.path.exists(address[len("unix:"):]), "the socket is removed")
        self.assertEqual(process.stdout.read(), b"", "nothing on stdout after the handshake")

    async def test_stdin_closing_stops_it(self) -> None:
        await self.stops_on(lambda process: process.stdin.close())

    async def test_sigterm_stops_it(self) -> None:
        await self.stops_on(lambda process: process.send_signal(signal.SIGTERM))

    def test_an_unknown_option_is_refused_by_name(self) -> None:
        process, line = self.start(options={"chunk_delay_ms": 5, "chunk_dely": 3})
        self.assertEqual(line, "")
        self.assertEqual(process.wait(PATIENCE), 2)
        stderr = process.stderr.read().decode()
        self.assertIn("unknown option `chunk_dely`", stderr)
        self.assertEqual(len(stderr.strip().splitlines()), 1, stderr)

    def test_a_bad_option_value_is_refused(self) -> None:
        process, _ = self.start(options={"chunk_delay_ms": True})
        self.assertEqual(process.wait(PATIENCE), 2)
        self.assertIn("chunk_delay_ms", process.stderr.read().decode())

    def test_without_an_address_it_says_so(self) -> None:
        process, line = self.start(AGENT_HOST_LISTEN="")
        self.assertEqual((line, process.wait(PATIENCE)), ("", 2))
        self.assertIn("AGENT_HOST_LISTEN", process.stderr.read().decode())

    def test_an_existing_socket_path_is_not_replaced(self) -> None:
        Path(self.directory, "plugin.sock").write_text("not ours")
        process, line = self.start()
        self.assertEqual((line, process.wait(PATIENCE)), ("", 1))
        self.assertIn("exists", process.stderr.read().decode())
        self.assertEqual(Path(self.directory, "plugin.sock").read_text(), "not ours")


if __name__ == "__main__":
    unittest.main()
