#!/usr/bin/env python3
"""An agent-host backend in Python, served over gRPC with grpcio (asyncio).

It speaks the protocol of ``proto/agent_host/runtime/v1/runtime.proto`` (described in
``docs/remote.md``) and keeps the rules of ``docs/semantics.md``, so the host reaches it
like any other backend and ``agent-host check`` passes on it. Its model is an echo, as
the bundled ``mock`` backend's: the answer to a message is ``echo: <the message>``,
streamed one word per chunk with ``chunk_delay_ms`` between chunks. A message with lines
``<tool>: <input>`` naming tools the agent declares calls those tools (all at once)
through the application instead, and answers one line ``<tool>: <result>`` per call.

The launch contract (see README.md): the host starts this program with
``AGENT_HOST_LISTEN=unix:PATH`` (where to listen), ``AGENT_HOST_OPTIONS`` (a JSON object)
and ``AGENT_HOST_PLUGIN`` (its name in the config); once listening it prints one
handshake line on stdout, ``agent-host-serve|1.1.0|0.2.4|<address>|grpc``. When stdin
reaches end of file (the host stopped or died) or on SIGTERM, it cancels every running
turn, tells its clients, and exits 0.

What a session is here: each ``Session`` stream is one client's runtime. Its agents,
turns, tool calls and quota backoff belong to it, and when the stream ends they go.
Everything runs on one asyncio loop, so state is plain attributes with no locks: a
change and every check of it happen between two awaits.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import ipaddress
import itertools
import json
import logging
import os
import random
import re
import signal
import stat
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Awaitable, Callable, Optional

# The .proto is read at start (no generated files are kept): grpcio-tools finds it on
# sys.path, as `agent_host/runtime/v1/runtime.proto` under the repository's proto/.
PROTO_ROOT = Path(__file__).resolve().parent.parent.parent / "proto"
sys.path.append(str(PROTO_ROOT))

import grpc  # noqa: E402
from grpc_health.v1 import health as grpc_health  # noqa: E402
from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: E402

pb, pb_grpc = grpc.protos_and_services("agent_host/runtime/v1/runtime.proto")

#: The protocol version spoken (PROTOCOL_VERSION in the agent-remote crate).
PROTOCOL_VERSION = "1.1.0"
#: The agent-plugin-api version whose semantics this backend follows.
API_VERSION = "0.2.4"
BACKEND_VERSION = "0.1.0"
DESCRIPTION = (
    "An example backend in Python over gRPC: echoes the message, streamed word by word"
)
#: The service name gRPC health reports SERVING for.
SERVICE_NAME = "agent_host.runtime.v1.Runtime"
#: The first protocol version whose clients read TextRun events.
TEXT_RUNS_SINCE = (1, 1)

#: At most this many events go in one TurnEvents, and this many queued entries in
#: one ServerMessage; more wait for the next (as the Rust server batches).
MAX_EVENTS = 1024
MAX_ENTRIES = 4096
#: How long a stopping server gives its turns to tell their clients they ended.
TURNS_END_WITHIN = 5.0
#: Quota backoff: the kit's default policy (agent_plugin_api::quota::BackoffPolicy).
BACKOFF_BASE = 1.0
BACKOFF_CAP = 60.0
BACKOFF_MULTIPLIER = 2.0
BACKOFF_JITTER = 0.1
MAX_BACKOFF = 24 * 60 * 60.0
#: A wait_for_wakeup timeout beyond this (Duration::MAX crosses as u64::MAX ms) waits
#: as long as it takes; asyncio needs no timer that far out.
FOREVER_MS = 10**12
U32_MAX = 2**32 - 1
#: How many characters of the message the thought quotes (as the mock).
THOUGHT_QUOTE_CHARS = 40
#: The bounds of chunk_delay_ms, as the mock's.
CHUNK_DELAY_MS_MAX = 60_000

log = logging.getLogger("echo-py")

# --- options ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Options:
    """The backend's options: ``AGENT_HOST_OPTIONS``, the ``[backends.<name>]`` table."""

    #: Pause before every chunk after the first, so streaming is observable (and the
    #: conformance kit's long prompt takes well over 100 ms).
    chunk_delay_ms: int = 20
    #: A message containing this text fails its turn with a backend error ("" = never),
    #: for ``agent-host check --failing-prompt``. The mock's trigger word too.
    fail_on: str = "FAIL"


class OptionsError(Exception):
    """A bad option: the backend refuses to start, with exit status 2."""


def parse_options(text: Optional[str]) -> Options:
    """Reads the options JSON; unknown keys are refused by name, so a typo never
    silently falls back to a default."""
    if text is None or not text.strip():
        return Options()
    try:
        table = json.loads(text)
    except json.JSONDecodeError as error:
        raise OptionsError(f"AGENT_HOST_OPTIONS is not JSON: {error}") from None
    if not isinstance(table, dict):
        raise OptionsError("AGENT_HOST_OPTIONS must be a JSON object")
    known = [field.name for field in dataclasses.fields(Options)]
    for key in table:
        if key not in known:
            raise OptionsError(
                f"unknown option `{key}` (the options are: {', '.join(known)})"
            )
    values = {}
    if "chunk_delay_ms" in table:
        value = table["chunk_delay_ms"]
        values["chunk_delay_ms"] = checked_delay("option `chunk_delay_ms`", value)
    if "fail_on" in table:
        value = table["fail_on"]
        if not isinstance(value, str):
            raise OptionsError(f"option `fail_on` must be a string, not {json.dumps(value)}")
        values["fail_on"] = value
    return Options(**values)


def checked_delay(name: str, value: Any) -> int:
    # bool is an int in Python; `true` is not a delay.
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or not 0 <= value <= CHUNK_DELAY_MS_MAX
    ):
        raise OptionsError(
            f"{name} must be an integer in 0..={CHUNK_DELAY_MS_MAX}, not {json.dumps(value)}"
        )
    return value


# --- errors, replies, usage -------------------------------------------------------------


class Fail(Exception):
    """An `Error` of the protocol: a call's or a turn's failure, as a kind and fields."""

    def __init__(self, kind: int, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.proto = pb.Error(kind=kind, message=message, **fields)


def not_started(agent_id: int) -> Fail:
    return Fail(
        pb.AGENT_NOT_STARTED,
        f"agent {agent_id} is not started (never created, or shut down)",
        agent_id=agent_id,
    )


def invalid_config(message: str) -> Fail:
    return Fail(pb.INVALID_CONFIG, message)


def cancelled_error() -> Any:
    return pb.Error(kind=pb.CANCELLED, message="cancelled")


def protocol_error(what: str) -> Fail:
    return Fail(pb.STREAM, f"protocol error: {what}")


#: A call's answer: the `Reply.outcome` field and its value.
Outcome = tuple[str, Any]
DONE: Outcome = ("done", pb.Nothing())
#: What a call that is never answered (try_shutdown_agent) returns.
NO_REPLY = None


def reply_item(call_id: int, outcome: Outcome) -> Any:
    """A `Reply` with its outcome set, also when the value is empty (an empty message
    or a zero must still say which outcome it is)."""
    field, value = outcome
    reply = pb.Reply(id=call_id)
    if isinstance(value, (bool, int)):
        setattr(reply, field, value)
    else:
        getattr(reply, field).CopyFrom(value)
        getattr(reply, field).SetInParent()
    return pb.ServerItem(reply=reply)


USAGE_FIELDS = (
    "prompt_token_count",
    "cached_content_token_count",
    "candidates_token_count",
    "thoughts_token_count",
    "total_token_count",
)


@dataclasses.dataclass(frozen=True)
class Usage:
    """Token counts; None is "not reported", which a sum keeps unless one side has it."""

    prompt_token_count: Optional[int] = None
    cached_content_token_count: Optional[int] = None
    candidates_token_count: Optional[int] = None
    thoughts_token_count: Optional[int] = None
    total_token_count: Optional[int] = None

    def __add__(self, other: "Usage") -> "Usage":
        def add(a: Optional[int], b: Optional[int]) -> Optional[int]:
            if a is None and b is None:
                return None
            return min((a or 0) + (b or 0), U32_MAX)

        return Usage(
            *(add(getattr(self, name), getattr(other, name)) for name in USAGE_FIELDS)
        )

    def to_proto(self) -> Any:
        counts = {name: getattr(self, name) for name in USAGE_FIELDS}
        return pb.Usage(**{name: n for name, n in counts.items() if n is not None})


def word_count(text: str) -> int:
    return min(len(text.split()), U32_MAX)


def usage_for(user_text: str, answer: str, thought: str) -> Usage:
    """Made-up but deterministic counts: words, as the mock counts them."""
    prompt, candidates, thoughts = word_count(user_text), word_count(answer), word_count(thought)
    return Usage(
        prompt_token_count=prompt,
        candidates_token_count=candidates,
        thoughts_token_count=thoughts,
        total_token_count=min(prompt + candidates + thoughts, U32_MAX),
    )


def compact_json(value: Any) -> str:
    """JSON text as serde_json writes it: no spaces, non-ASCII kept."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def json_field(text: str, field: str) -> Any:
    """A JSON value that crossed as text; empty text is null (as the Rust side reads it)."""
    if not text:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise invalid_config(f"agent config field `{field}`: {field} is not JSON: {error}")


# --- what the echo model answers --------------------------------------------------------

MEDIA_KINDS = ("image", "document", "audio", "video")


def check_content(content: Any) -> None:
    """Content of no kind (from a newer or broken client) cannot be answered."""
    kind = content.WhichOneof("kind")
    if kind is None:
        raise protocol_error("content of no known kind")
    if kind == "multi":
        for part in content.multi.parts:
            check_content(part)


def user_text(content: Any) -> str:
    """The message's text parts, joined by newlines (media is skipped): what
    `Content::to_text` gives."""
    parts: list[str] = []

    def collect(content: Any) -> None:
        kind = content.WhichOneof("kind")
        if kind == "text" and content.text:
            parts.append(content.text)
        elif kind == "multi":
            for part in content.multi.parts:
                collect(part)

    collect(content)
    return "\n".join(parts)


def describe_media(content: Any) -> str:
    """`[image image/png, 3 bytes]` for each media part, as the mock describes them."""
    found: list[str] = []

    def collect(content: Any) -> None:
        kind = content.WhichOneof("kind")
        if kind in MEDIA_KINDS:
            media = getattr(content, kind)
            found.append(f"[{kind} {media.mime_type}, {len(media.data)} bytes]")
        elif kind == "multi":
            for part in content.multi.parts:
                collect(part)

    collect(content)
    return " ".join(found)


def word_chunks(text: str) -> list[str]:
    """One chunk per word, each with the whitespace after it (the first also with any
    before it), so the chunks joined are exactly the text."""
    chunks = re.findall(r"\s*\S+\s*", text)
    return chunks or ([text] if text else [])


@dataclasses.dataclass
class ToolRequest:
    tool: str
    args: dict


def tool_requests(text: str, arguments: dict[str, str]) -> list[ToolRequest]:
    """The calls a message asks for: each line `<tool>: <input>` naming a declared tool,
    in order (the kit's tool prompt, `tool_lines` in conformance/src/target.rs)."""
    requests = []
    for line in text.split("\n"):
        tool, colon, rest = line.rstrip("\r").partition(":")
        tool = tool.strip()
        if colon and tool in arguments:
            requests.append(ToolRequest(tool, {arguments[tool]: rest.strip()}))
    return requests


def shown(ok: bool, value: Any) -> str:
    """A tool's answer in the model's answer: a string as it is, other JSON as text."""
    if not ok:
        return f"error: {value}"
    return value if isinstance(value, str) else compact_json(value)


# --- quota ------------------------------------------------------------------------------


class Quota:
    """One runtime's quota backoff (a session's), as the kit's QuotaRegistry keeps it:
    at least `retry_after`, growing exponentially over consecutive hits, capped, with
    jitter, never past a day. A hit on one session never delays another."""

    def __init__(self) -> None:
        self.consecutive_hits = 0
        self.until = time.monotonic()

    def record_hit(self, retry_after_ms: int) -> float:
        self.consecutive_hits += 1
        retry_after = min(retry_after_ms / 1000.0, MAX_BACKOFF)
        start = retry_after if retry_after > 0 else BACKOFF_BASE
        exponent = min(self.consecutive_hits - 1, 30)
        ceiling = max(min(BACKOFF_CAP, MAX_BACKOFF), retry_after)
        grown = min(start * BACKOFF_MULTIPLIER**exponent, ceiling)
        backoff = min(grown * (1.0 + BACKOFF_JITTER * random.random()), MAX_BACKOFF)
        backoff = max(backoff, retry_after)
        now = time.monotonic()
        self.until = max(self.until, now + backoff)
        return self.until - now

    async def wait(self) -> None:
        while (left := self.until - time.monotonic()) > 0:
            await asyncio.sleep(left)


# --- agents and turns -------------------------------------------------------------------


class Turn:
    """One queued or running turn. `call_id` is the id of the `chat` call that started
    it (its events and end go to the client under that id), or None for a `send`,
    whose answer nobody reads."""

    def __init__(self, content: Any, call_id: Optional[int]) -> None:
        self.content = content
        self.call_id = call_id
        #: The task playing it, once it started.
        self.task: Optional[asyncio.Task] = None
        #: Asked to stop: it ends CANCELLED even if its answer is ready by then (a cancel
        #: that lands just as the turn ends wins, as in the kit).
        self.cancelled = False
        self.ended = False


@dataclasses.dataclass
class AgentSettings:
    """What an agent streams with, from its config and the backend's options."""

    chunk_delay: float
    fail_on: str
    #: For each declared tool, the argument a line's input fills: the schema's only
    #: property if it has exactly one, else `input` (as the mock).
    arguments: dict[str, str]
    #: The tools the application offered (`CreateAgent.tool_names`): these are called
    #: back over the session; a declared tool without a handler gives an error result.
    offered: frozenset[str]
    #: The id of the CreateAgent call, which the application knows the tools by.
    tools_id: int


class Agent:
    """An agent: its conversation, and its FIFO of turns played by one worker task.

    `pending` holds the turns queued or running, oldest first; its front is the running
    turn (or the one about to run), which is what `cancel` stops. The worker exists only
    while there are turns, so an idle agent holds no task."""

    def __init__(self, session: "Session", agent_id: int, settings: AgentSettings) -> None:
        self.session = session
        self.id = agent_id
        self.settings = settings
        self.history: list[Any] = []
        self.turn_count = 0
        self.total_usage = Usage()
        self.last_turn_usage = Usage()
        self.last_response: Optional[str] = None
        self.pending: collections.deque[Turn] = collections.deque()
        self.worker: Optional[asyncio.Task] = None
        #: Turns started so far; a turn's number (1-based) picks its tool call ids.
        self.turns_started = 0
        self.signalled_idle = False
        #: A message was sent and no wait_for_wakeup has reported it yet.
        self.wakeup = False
        self.shut_down = False
        self._changed = asyncio.Event()

    # Waiters (wait_for_idle, wait_for_wakeup) recheck the state after every change.

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_until(self, check: Callable[[], Optional[Any]]) -> Any:
        while True:
            changed = self._changed
            answer = check()
            if answer is not None:
                return answer
            await changed.wait()

    def is_idle(self) -> bool:
        return self.shut_down or self.signalled_idle or not self.pending

    def enqueue(self, turn: Turn) -> None:
        self.pending.append(turn)
        if self.worker is None:
            self.worker = asyncio.create_task(self._work())
        self._notify()

    def send(self, content: Any) -> None:
        self.enqueue(Turn(content, None))
        self.wakeup = True
        self._notify()

    def signal_idle(self) -> None:
        self.signalled_idle = True
        self._notify()

    async def wait_for_idle(self) -> None:
        def check() -> Optional[bool]:
            if self.shut_down:
                raise not_started(self.id)
            return True if self.is_idle() else None

        await self._wait_until(check)

    async def wait_for_wakeup(self, timeout_ms: int) -> bool:
        def check() -> Optional[bool]:
            if self.shut_down:
                raise not_started(self.id)
            if self.wakeup:
                self.wakeup = False
                return True
            return None

        # A wakeup already there is reported even with a zero timeout.
        if check():
            return True
        timeout = None if timeout_ms >= FOREVER_MS else timeout_ms / 1000.0
        try:
            return await asyncio.wait_for(self._wait_until(check), timeout)
        except asyncio.TimeoutError:
            return False

    def cancel_running(self) -> None:
        """`cancel`: stops the turn at the front; the turns behind it still run."""
        if self.pending:
            self.cancel_turn(self.pending[0])

    def cancel_turn(self, turn: Turn) -> None:
        """Stops one turn: a running one's task is cancelled (the worker ends it); a
        queued one leaves the queue at once and never runs."""
        if turn.ended:
            return
        turn.cancelled = True
        if turn.task is not None:
            turn.task.cancel()
        else:
            self.pending.remove(turn)
            self._end(turn, error=cancelled_error())
            self._notify()

    def begin_shutdown(self) -> None:
        """Stops the agent without waiting: every turn ends CANCELLED, queued ones
        without running. Safe to call more than once."""
        if self.shut_down:
            return
        self.shut_down = True
        for turn in list(self.pending):
            self.cancel_turn(turn)
        self._notify()

    async def shut_down_and_wait(self) -> None:
        self.begin_shutdown()
        if self.worker is not None:
            await asyncio.wait({self.worker})

    def clear_history(self) -> None:
        """Forgets the conversation; the usage totals stay (semantics.md)."""
        self.history.clear()
        self.turn_count = 0
        self.last_response = None

    def _end(self, turn: Turn, result: Any = None, error: Any = None) -> None:
        turn.ended = True
        if turn.call_id is not None:
            self.session.turn_end(turn.call_id, result=result, error=error)

    async def _work(self) -> None:
        """The worker: plays the queued turns one at a time, in call order."""
        try:
            while self.pending and not self.shut_down:
                turn = self.pending[0]
                self.turns_started += 1
                self.signalled_idle = False
                self._notify()
                # A task of its own, so that cancelling the turn never cancels the worker.
                turn.task = asyncio.create_task(self._play(turn, self.turns_started))
                await asyncio.wait({turn.task})
                self._settle(turn)
        finally:
            self.worker = None
            self._notify()

    def _settle(self, turn: Turn) -> None:
        """Ends a played turn. Only a turn that completed well changes the conversation,
        and it does so before its end is sent, so a client that sees the end (or the
        agent idle) sees the new history."""
        task = turn.task
        assert task is not None
        if turn in self.pending:
            self.pending.remove(turn)
        if turn.cancelled or task.cancelled():
            if not task.cancelled():
                task.exception()  # retrieved, so asyncio does not warn about it
            self._end(turn, error=cancelled_error())
        elif (error := task.exception()) is not None:
            if isinstance(error, Fail):
                self._end(turn, error=error.proto)
            else:
                log.error(
                    "a turn of agent %d failed:\n%s",
                    self.id,
                    "".join(traceback.format_exception(error)),
                )
                self._end(
                    turn,
                    error=pb.Error(
                        kind=pb.BACKEND, message=f"{backend_name()}: the turn failed: {error!r}"
                    ),
                )
        else:
            answer, usage, exchanges = task.result()
            self._record(turn.content, answer, usage, exchanges)
            self._end(turn, result=pb.ChatResult(text=answer, usage=usage.to_proto()))
        self._notify()

    def _record(self, content: Any, answer: str, usage: Usage, exchanges: list) -> None:
        """The history of a completed turn: the user's message; for each tool call, in
        the order the calls were made, a model message carrying it and a tool message
        with its result; then the answer."""
        self.history.append(pb.ConversationMessage(role="user", content=content))
        for _order, call, result in sorted(exchanges, key=lambda exchange: exchange[0]):
            self.history.append(
                pb.ConversationMessage(
                    role="model", content=pb.Content(text=""), tool_calls=[call]
                )
            )
            if result.WhichOneof("output") == "output_json":
                text = result.output_json
            else:
                text = f"error: {result.error}"
            self.history.append(
                pb.ConversationMessage(
                    role="tool", content=pb.Content(text=text), tool_result=result
                )
            )
        self.history.append(pb.ConversationMessage(role="model", content=pb.Content(text=answer)))
        self.turn_count += 1
        self.last_turn_usage = usage
        self.total_usage = self.total_usage + usage
        self.last_response = answer

    async def _play(self, turn: Turn, number: int) -> tuple[str, Usage, list]:
        """The echo model's turn. Events, in order: step 0, a thought, the tool calls
        and their results (if the message asks for any), step 1, the answer one word
        per chunk with the chunk delay between chunks, the usage."""
        settings = self.settings

        def emit(event: Any) -> None:
            if turn.call_id is not None:
                self.session.emit(turn.call_id, event)

        text = user_text(turn.content)
        emit(pb.Event(step=pb.Step(index=0, description="received")))
        if settings.fail_on and settings.fail_on in text:
            raise Fail(
                pb.BACKEND,
                f"{backend_name()}: the message contains the trigger word {settings.fail_on}",
            )
        thought = "considering: " + text[:THOUGHT_QUOTE_CHARS]
        emit(pb.Event(thought=thought))
        exchanges: list = []
        requests = tool_requests(text, settings.arguments)
        if requests:
            answer = await self._call_tools(emit, number, requests, exchanges)
        else:
            answer = "echo: " + (text or describe_media(turn.content))
        emit(pb.Event(step=pb.Step(index=1, description="answering")))
        for index, chunk in enumerate(word_chunks(answer)):
            if index > 0:
                # Even with no delay the turn lets the loop run (and its chunks go out).
                await asyncio.sleep(settings.chunk_delay)
            emit(chunk)
        usage = usage_for(text, answer, thought)
        emit(pb.Event(usage=usage.to_proto()))
        return answer, usage, exchanges

    async def _call_tools(
        self,
        emit: Callable[[Any], None],
        number: int,
        requests: list[ToolRequest],
        exchanges: list,
    ) -> str:
        """Runs every requested call at once; each streams a ToolCall, then its
        ToolResult with the same id. A cancelled turn cancels the waiting calls, which
        tells the application to drop them."""

        async def one(order: int, request: ToolRequest) -> tuple[bool, Any]:
            call = pb.ToolCall(
                id=f"call-{number}-{order}", name=request.tool, args_json=compact_json(request.args)
            )
            emit(pb.Event(tool_call=call))
            ok, value = await self._run_tool(request.tool, request.args)
            result = pb.ToolResult(id=call.id, name=call.name)
            if ok:
                result.output_json = compact_json(value)
            else:
                result.error = value
            emit(pb.Event(tool_result=result))
            exchanges.append((order, call, result))
            return ok, value

        outputs = await asyncio.gather(*(one(order, r) for order, r in enumerate(requests)))
        return "\n".join(
            f"{request.tool}: {shown(ok, value)}"
            for request, (ok, value) in zip(requests, outputs)
        )

    async def _run_tool(self, name: str, args: dict) -> tuple[bool, Any]:
        offered = self.settings.offered
        if name not in offered:
            # Declared but with no handler: an error result, the turn goes on (as the
            # kit's Tools::call answers).
            known = ", ".join(sorted(offered)) or "none"
            return False, f"no tool named `{name}` (tools: {known})"
        return await self.session.call_tool(self.settings.tools_id, name, args)


# --- a session: one client's runtime ----------------------------------------------------

#: The entry that ends a session's stream.
CLOSE = object()


class Session:
    """One client's `Session` stream: it reads calls, cancellations and tool replies,
    and writes replies, turn events, turn ends and tool calls, batched: each message
    carries every entry ready when the writer wakes."""

    _agent_ids = itertools.count(1)  # unique for the process's life, never reused

    def __init__(self, options: Options, packs_text: bool) -> None:
        self.options = options
        self.packs_text = packs_text
        self.agents: dict[int, Agent] = {}
        #: The chat turns whose end is still to be sent, by the id of their call.
        self.turns: dict[int, tuple[Agent, Turn]] = {}
        self.tool_calls: dict[int, asyncio.Future] = {}
        self._tool_call_ids = itertools.count(1)
        self.quota = Quota()
        self.ended = False
        #: Calls that wait (wait_for_idle, ...), each answered by a task of its own.
        self.tasks: set[asyncio.Task] = set()
        self._out: asyncio.Queue = asyncio.Queue()

    # --- writing

    def send(self, item: Any) -> None:
        self._out.put_nowait(item)

    def reply(self, call_id: int, outcome: Outcome) -> None:
        self.send(reply_item(call_id, outcome))

    def emit(self, turn_id: int, event: Any) -> None:
        """A turn event: a text chunk (str) or an `Event`."""
        self._out.put_nowait((turn_id, event))

    def turn_end(self, turn_id: int, result: Any = None, error: Any = None) -> None:
        self.turns.pop(turn_id, None)
        end = pb.TurnEnd(turn_id=turn_id)
        if error is not None:
            end.error.CopyFrom(error)
        else:
            end.result.CopyFrom(result)
        self.send(pb.ServerItem(turn_end=end))

    async def messages(self):
        """The stream to the client: whatever is ready, in one message, until CLOSE."""
        while True:
            entries = [await self._out.get()]
            while len(entries) < MAX_ENTRIES and not self._out.empty():
                entries.append(self._out.get_nowait())
            closing = any(entry is CLOSE for entry in entries)
            if closing:
                entries = entries[: next(i for i, e in enumerate(entries) if e is CLOSE)]
            message = self._pack(entries)
            if message.items:
                yield message
            if closing:
                return

    def _pack(self, entries: list) -> Any:
        """Entries as one ServerMessage: each run of one turn's events becomes one
        TurnEvents, and in it each run of text chunks one TextRun (for a 1.1 client)."""
        items: list[Any] = []
        group: Optional[tuple[int, list]] = None
        for entry in entries:
            if isinstance(entry, tuple):
                turn_id, event = entry
                if group is None or group[0] != turn_id or len(group[1]) >= MAX_EVENTS:
                    group = (turn_id, [])
                    items.append(group)
                group[1].append(event)
            else:
                group = None
                items.append(entry)
        message = pb.ServerMessage()
        for item in items:
            if isinstance(item, tuple):
                turn_id, events = item
                message.items.append(
                    pb.ServerItem(
                        turn_events=pb.TurnEvents(turn_id=turn_id, events=self._events(events))
                    )
                )
            else:
                message.items.append(item)
        return message

    def _events(self, events: list) -> list:
        out: list[Any] = []
        run: list[str] = []  # text chunks not yet written out

        def flush_run() -> None:
            # Chunk i is text[ends[i-1]..ends[i]], in bytes of UTF-8.
            ends = list(itertools.accumulate(len(chunk.encode("utf-8")) for chunk in run))
            out.append(pb.Event(text_run=pb.TextRun(text="".join(run), ends=ends)))
            run.clear()

        for event in events:
            if isinstance(event, str) and self.packs_text:
                run.append(event)
                continue
            if run:
                flush_run()
            out.append(pb.Event(text=event) if isinstance(event, str) else event)
        if run:
            flush_run()
        return out

    # --- reading

    async def read(self, requests) -> None:
        try:
            async for message in requests:
                for item in message.items:
                    self.handle(item)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the client's stream broke
            log.warning("a client's session ended with an error: %s", error)
        finally:
            self.end()

    def handle(self, item: Any) -> None:
        kind = item.WhichOneof("item")
        if kind == "call":
            self.answer(item.call)
        elif kind == "cancel_turn":
            found = self.turns.get(item.cancel_turn)
            if found is not None:
                agent, turn = found
                agent.cancel_turn(turn)
        elif kind == "tool_reply":
            waiting = self.tool_calls.pop(item.tool_reply.tool_call_id, None)
            if waiting is not None and not waiting.done():
                waiting.set_result(item.tool_reply)
        else:
            log.debug("a client sent an empty item")

    def answer(self, call: Any) -> None:
        """Runs one call: those that answer at once inline, in the order they came
        (so a `chat` is queued before a later call looks), those that wait as tasks."""
        method = call.WhichOneof("method")
        try:
            if method is None:
                raise protocol_error("a call with no method")
            outcome = getattr(self, "_call_" + method)(call.id, getattr(call, method))
        except Fail as failure:
            return self.reply(call.id, ("error", failure.proto))
        except Exception as error:  # a bug here must not end the session
            return self._internal_error(call.id, method, error)
        if asyncio.iscoroutine(outcome):
            task = asyncio.create_task(self._answer_later(call.id, method, outcome))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        elif outcome is not NO_REPLY:
            self.reply(call.id, outcome)

    async def _answer_later(self, call_id: int, method: str, outcome: Awaitable[Outcome]) -> None:
        try:
            answer = await outcome
        except Fail as failure:
            answer = ("error", failure.proto)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            return self._internal_error(call_id, method, error)
        if answer is not NO_REPLY:
            self.reply(call_id, answer)

    def _internal_error(self, call_id: int, method: Optional[str], error: Exception) -> None:
        log.error("call %s failed:\n%s", method, "".join(traceback.format_exception(error)))
        message = f"{backend_name()}: {method} failed: {error!r}"
        self.reply(call_id, ("error", pb.Error(kind=pb.BACKEND, message=message)))

    def _agent(self, agent_id: int) -> Agent:
        agent = self.agents.get(agent_id)
        if agent is None:
            raise not_started(agent_id)
        return agent

    # --- the calls, one method each; each returns its Outcome (or a coroutine of it)

    def _call_create_agent(self, call_id: int, create: Any) -> Outcome:
        if self.ended:
            raise Fail(pb.CONNECTION_CLOSED, "connection closed")
        settings = self._settings(call_id, create)
        agent_id = next(Session._agent_ids)
        self.agents[agent_id] = Agent(self, agent_id, settings)
        log.debug("agent %d created (model %s)", agent_id, create.config.model)
        return ("agent_id", agent_id)

    def _settings(self, call_id: int, create: Any) -> AgentSettings:
        """Checks the config as the kit does (an empty model is InvalidConfig)."""
        config = create.config
        if not config.model.strip():
            raise invalid_config("model must not be empty")
        arguments: dict[str, str] = {}
        for index, tool in enumerate(config.tools):
            if not tool.name.strip():
                raise invalid_config(f"tools[{index}]: a tool needs a name")
            schema = json_field(tool.parameter_schema_json, "tools")
            properties = schema.get("properties") if isinstance(schema, dict) else None
            if isinstance(properties, dict) and len(properties) == 1:
                arguments[tool.name] = next(iter(properties))
            else:
                arguments[tool.name] = "input"
        if config.HasField("response_schema_json"):
            schema = json_field(config.response_schema_json, "response_schema")
            if not isinstance(schema, dict):
                raise invalid_config(
                    f"response_schema must be a JSON object, not {config.response_schema_json}"
                )
        extras = json_field(config.extras_json, "extras")
        if extras is None:
            extras = {}
        if not isinstance(extras, dict):
            raise invalid_config("agent config field `extras` must be a JSON object")
        delay_ms = self.options.chunk_delay_ms
        if extras.get("chunk_delay_ms") is not None:
            try:
                delay_ms = checked_delay("extras.chunk_delay_ms", extras["chunk_delay_ms"])
            except OptionsError as error:
                raise invalid_config(str(error))
        for name in create.tool_names:
            if name not in arguments:
                raise invalid_config(
                    f"tool `{name}` has a handler but is not declared in the agent's tools"
                )
        return AgentSettings(
            chunk_delay=delay_ms / 1000.0,
            fail_on=self.options.fail_on,
            arguments=arguments,
            offered=frozenset(create.tool_names),
            tools_id=call_id,
        )

    def _call_chat(self, call_id: int, chat: Any) -> Outcome:
        agent = self._agent(chat.agent_id)
        check_content(chat.content)
        turn = Turn(chat.content, call_id)
        self.turns[call_id] = (agent, turn)
        # Queued first, answered second: the reply goes out before the turn's first
        # event, since the worker runs only once this returns to the loop.
        agent.enqueue(turn)
        return DONE

    def _call_send(self, call_id: int, chat: Any) -> Outcome:
        agent = self._agent(chat.agent_id)
        check_content(chat.content)
        agent.send(chat.content)
        return DONE

    def _take(self, agent_id: int) -> Agent:
        """Removes an agent: from now on its id is AgentNotStarted."""
        agent = self._agent(agent_id)
        del self.agents[agent_id]
        return agent

    async def _call_shutdown_agent(self, call_id: int, agent: Any) -> Outcome:
        await self._take(agent.agent_id).shut_down_and_wait()
        return DONE

    async def _call_delete(self, call_id: int, agent: Any) -> Outcome:
        # Nothing is saved, so deleting is shutting down.
        await self._take(agent.agent_id).shut_down_and_wait()
        return DONE

    def _call_try_shutdown_agent(self, call_id: int, agent: Any) -> None:
        found = self.agents.pop(agent.agent_id, None)
        if found is not None:
            found.begin_shutdown()
        return NO_REPLY

    def _call_cancel(self, call_id: int, agent: Any) -> Outcome:
        self._agent(agent.agent_id).cancel_running()
        return DONE

    async def _call_wait_for_idle(self, call_id: int, agent: Any) -> Outcome:
        await self._agent(agent.agent_id).wait_for_idle()
        return DONE

    def _call_signal_idle(self, call_id: int, agent: Any) -> Outcome:
        self._agent(agent.agent_id).signal_idle()
        return DONE

    async def _call_wait_for_wakeup(self, call_id: int, wait: Any) -> Outcome:
        return ("flag", await self._agent(wait.agent_id).wait_for_wakeup(wait.timeout_ms))

    async def _call_wait_for_quota(self, call_id: int, _: Any) -> Outcome:
        await self.quota.wait()
        return DONE

    def _call_record_quota_hit(self, call_id: int, hit: Any) -> Outcome:
        backoff = self.quota.record_hit(hit.retry_after_ms)
        log.debug("quota hit recorded: backing off %.3f s", backoff)
        return DONE

    def _call_history(self, call_id: int, agent: Any) -> Outcome:
        return ("history", pb.History(messages=self._agent(agent.agent_id).history))

    def _call_turn_count(self, call_id: int, agent: Any) -> Outcome:
        return ("count", self._agent(agent.agent_id).turn_count)

    def _call_total_usage(self, call_id: int, agent: Any) -> Outcome:
        return ("usage", self._agent(agent.agent_id).total_usage.to_proto())

    def _call_last_turn_usage(self, call_id: int, agent: Any) -> Outcome:
        return ("usage", self._agent(agent.agent_id).last_turn_usage.to_proto())

    def _call_clear_history(self, call_id: int, agent: Any) -> Outcome:
        self._agent(agent.agent_id).clear_history()
        return DONE

    def _call_last_response(self, call_id: int, agent: Any) -> Outcome:
        return ("text", pb.OptionalText(text=self._agent(agent.agent_id).last_response))

    def _call_compaction_indices(self, call_id: int, agent: Any) -> Outcome:
        # The echo never compacts its conversation.
        self._agent(agent.agent_id)
        return ("indices", pb.Indices())

    def _call_disconnect(self, call_id: int, agent: Any) -> Outcome:
        # No connection is held; the agent stays usable.
        self._agent(agent.agent_id)
        return DONE

    def _call_is_idle(self, call_id: int, agent: Any) -> Outcome:
        return ("flag", self._agent(agent.agent_id).is_idle())

    def _call_conversation_id(self, call_id: int, agent: Any) -> Outcome:
        # None: this backend saves no conversations (the saved.* checks skip).
        self._agent(agent.agent_id)
        return ("text", pb.OptionalText())

    # --- the application's tools

    async def call_tool(self, tools_id: int, name: str, args: dict) -> tuple[bool, Any]:
        """Asks the client to run one of its tools and waits for the answer; if this
        is cancelled first (its turn was), the client is told to drop the call."""
        if self.ended:
            return False, "the application's session ended before the tool answered"
        tool_call_id = next(self._tool_call_ids)
        answered = asyncio.get_running_loop().create_future()
        self.tool_calls[tool_call_id] = answered
        self.send(
            pb.ServerItem(
                tool_call=pb.ToolCallRequest(
                    tool_call_id=tool_call_id,
                    tools_id=tools_id,
                    name=name,
                    args_json=compact_json(args),
                )
            )
        )
        try:
            reply = await answered
        finally:
            # Still registered: nobody answered, the wait was cancelled.
            if self.tool_calls.pop(tool_call_id, None) is not None and not self.ended:
                self.send(pb.ServerItem(cancel_tool_call=tool_call_id))
        if reply is None:
            return False, "the application's session ended before the tool answered"
        output = reply.WhichOneof("output")
        if output == "output_json":
            try:
                return True, json.loads(reply.output_json)
            except json.JSONDecodeError as error:
                return False, f"the tool's answer is not JSON: {error}"
        if output == "error":
            return False, reply.error
        return False, "the application's answer had no output"

    # --- the end

    def end(self) -> None:
        """The client left (or the session is closing): cancel every turn and waiting
        call, answer every tool call, shut down every agent, close the stream."""
        if self.ended:
            return
        self.ended = True
        for task in list(self.tasks):
            task.cancel()
        for waiting in self.tool_calls.values():
            if not waiting.done():
                waiting.set_result(None)
        self.tool_calls.clear()
        for agent in self.agents.values():
            agent.begin_shutdown()
        self.agents.clear()
        self.send(CLOSE)

    async def stop(self) -> None:
        """The server is stopping: running turns end CANCELLED and their ends reach the
        client before the stream closes."""
        if self.ended:
            return
        agents = list(self.agents.values())
        for agent in agents:
            agent.begin_shutdown()
        workers = [agent.worker for agent in agents if agent.worker is not None]
        if workers:
            await asyncio.wait(workers, timeout=TURNS_END_WITHIN)
        self.end()


# --- the service ------------------------------------------------------------------------


def client_reads_text_runs(context: Any) -> bool:
    """A client says its protocol version in the session's metadata (since 1.1); one
    that says nothing is older and gets a text event per chunk."""
    for key, value in context.invocation_metadata() or ():
        if key == "agent-host-protocol":
            try:
                major, minor = (int(part) for part in str(value).split(".")[:2])
            except ValueError:
                return False
            return (major, minor) >= TEXT_RUNS_SINCE
    return False


class RuntimeService(pb_grpc.RuntimeServicer):
    def __init__(self, options: Options) -> None:
        self.options = options
        self.sessions: set[Session] = set()
        self.stopping = False

    async def Handshake(self, request: Any, context: Any) -> Any:
        theirs = request.protocol_version
        try:
            major = int(theirs.split(".")[0])
        except ValueError:
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"protocol version `{theirs}` is not a version",
            )
        if major != int(PROTOCOL_VERSION.split(".")[0]):
            await context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"the other side speaks protocol {theirs}, this one {PROTOCOL_VERSION}: "
                "their major versions differ",
            )
        return pb.HandshakeReply(
            protocol_version=PROTOCOL_VERSION,
            api_version=API_VERSION,
            backend=backend_name(),
            backend_version=BACKEND_VERSION,
            description=DESCRIPTION,
        )

    async def Session(self, request_iterator: Any, context: Any):
        if self.stopping:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the backend is stopping")
        # The headers go out now, not with the first message: a tonic client's call
        # returns only once it has them, and sends its first call only after that.
        await context.send_initial_metadata(())
        session = Session(self.options, client_reads_text_runs(context))
        self.sessions.add(session)
        reader = asyncio.create_task(session.read(request_iterator))
        try:
            async for message in session.messages():
                yield message
        finally:
            # Also when the client went away mid-stream (the RPC was cancelled).
            session.end()
            reader.cancel()
            self.sessions.discard(session)

    async def stop(self) -> None:
        self.stopping = True
        await asyncio.gather(*(session.stop() for session in list(self.sessions)))


# --- the process ------------------------------------------------------------------------


def backend_name() -> str:
    return os.environ.get("AGENT_HOST_PLUGIN") or "echo-py"


class Address:
    """Where to listen: `unix:PATH` (what the host gives) or loopback `tcp:IP:PORT`."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.unix_path: Optional[Path] = None
        if text.startswith("unix:"):
            path = text[len("unix:"):]
            if not path:
                raise ValueError("`unix:` needs a socket path, as in unix:/run/agent.sock")
            self.unix_path = Path(path)
            self.target = text
        elif text.startswith("tcp:"):
            host, _, port = text[len("tcp:"):].rpartition(":")
            try:
                ip = ipaddress.ip_address(host.strip("[]"))
                int(port)
            except ValueError:
                raise ValueError(
                    f"`{text[4:]}` is not HOST:PORT with HOST an IP address, as in "
                    "tcp:127.0.0.1:7070"
                ) from None
            if not ip.is_loopback:
                raise ValueError(
                    f"{text} is not a loopback address: this backend serves without TLS"
                )
            self.target = f"{host}:{port}"
        else:
            raise ValueError(f"`{text}` is not an address: use unix:PATH or tcp:HOST:PORT")

    def bound(self, port: int) -> str:
        """The address for the handshake line (a TCP port 0 resolved)."""
        if self.unix_path is not None:
            return self.text
        host = self.target.rpartition(":")[0]
        return f"tcp:{host}:{port}"


def watch_stdin(loop: asyncio.AbstractEventLoop, stop: Callable[[str], None]) -> None:
    """Stops the backend when stdin reaches end of file: the host holds its end of the
    pipe open for as long as it lives, so this notices even a SIGKILLed host."""

    def run() -> None:
        try:
            while os.read(0, 65536):
                pass
        except OSError:
            pass
        loop.call_soon_threadsafe(stop, "stdin closed")

    threading.Thread(target=run, name="stdin-watch", daemon=True).start()


async def serve(address: Address, options: Options) -> int:
    server = grpc.aio.server(
        options=[
            # No bound of its own on a message (a turn's content with media), as the
            # Rust server: a message over a bound would end the whole session.
            ("grpc.max_receive_message_length", -1),
            ("grpc.max_send_message_length", -1),
        ]
    )
    service = RuntimeService(options)
    pb_grpc.add_RuntimeServicer_to_server(service, server)
    health = grpc_health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    await health.set(SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)
    await health.set("", health_pb2.HealthCheckResponse.SERVING)

    if address.unix_path is not None and os.path.lexists(address.unix_path):
        # gRPC would replace a stale socket; a file this process did not make is not ours
        # to remove.
        print(
            f"{backend_name()}: cannot listen on {address.text}: the path exists "
            "(remove a stale socket first)",
            file=sys.stderr,
        )
        return 1
    try:
        port = server.add_insecure_port(address.target)
    except RuntimeError as error:
        print(f"{backend_name()}: cannot listen on {address.text}: {error}", file=sys.stderr)
        return 1
    await server.start()

    # The handshake: the one line on stdout, for the parent. Anything printed later
    # goes to stderr, so nothing can get in the parent's way.
    handshake = f"agent-host-serve|{PROTOCOL_VERSION}|{API_VERSION}|{address.bound(port)}|grpc"
    print(handshake, flush=True)
    sys.stdout = sys.stderr
    log.info("serving backend %r on %s", backend_name(), address.bound(port))

    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()

    def stop(why: str) -> None:
        if stopping.is_set():
            if why.startswith("SIG"):
                log.warning("%s while stopping: exiting at once", why)
                os._exit(1)
            return
        log.info("%s: stopping", why)
        stopping.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop, signal.Signals(signum).name)
    watch_stdin(loop, stop)

    await stopping.wait()
    await health.enter_graceful_shutdown()
    await service.stop()
    await server.stop(grace=2.0)
    if address.unix_path is not None:
        try:
            if stat.S_ISSOCK(os.lstat(address.unix_path).st_mode):
                os.unlink(address.unix_path)
        except FileNotFoundError:
            pass
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description=DESCRIPTION,
        epilog="The host sets AGENT_HOST_LISTEN, AGENT_HOST_OPTIONS and AGENT_HOST_PLUGIN; "
        "--listen is for running it by hand.",
    )
    parser.add_argument(
        "--listen",
        metavar="ADDRESS",
        help="unix:PATH or loopback tcp:IP:PORT (default: $AGENT_HOST_LISTEN)",
    )
    arguments = parser.parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=os.environ.get("ECHO_PY_LOG", "WARNING").upper(),
        format=f"{backend_name()}: %(message)s",
    )
    name = backend_name()
    listen = arguments.listen or os.environ.get("AGENT_HOST_LISTEN")
    if not listen:
        print(
            f"{name}: no address to listen on: the host sets AGENT_HOST_LISTEN=unix:PATH "
            "(or pass --listen unix:PATH to run it by hand)",
            file=sys.stderr,
        )
        return 2
    try:
        address = Address(listen)
    except ValueError as error:
        print(f"{name}: {error}", file=sys.stderr)
        return 2
    try:
        options = parse_options(os.environ.get("AGENT_HOST_OPTIONS"))
    except OptionsError as error:
        print(f"{name}: {error}", file=sys.stderr)
        return 2
    return asyncio.run(serve(address, options))


if __name__ == "__main__":
    sys.exit(main())
