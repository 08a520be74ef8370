"""Write agent-host agents in Python.

The ``python`` plugin of agent-host runs Python agents on one asyncio event loop inside
the host process. This package is the whole protocol between your agent and the host;
it is bundled with the plugin, so there is nothing to install.

A five-line agent
=================

::

    import agent_host

    class EchoAgent:
        def __init__(self, config: agent_host.AgentConfig) -> None:
            self.config = config

        async def chat(self, content: agent_host.Content):
            for word in agent_host.content_text(content).split():
                yield word + " "

Point the plugin at it with ``agent = "my_agents:EchoAgent"`` (the module must be
importable: see the plugin's ``python_path`` and ``venv`` options). Without an
``agent`` option the plugin runs ``agent_host.reference:ReferenceAgent``.

The agent class
===============

``AgentClass(config)`` is called once per ``create_agent`` with an ``AgentConfig``
(model, api_key, system_instructions, tools, response_schema, conversation_id,
save_dir, max_quota_retries, extras, and ``host_tools``: see below). Raise ``InvalidConfig`` (or ``ValueError``) there
to refuse a config: the application gets ``Error::InvalidConfig``. Construction runs on
the event loop, so keep it quick.

``async def chat(self, content)`` plays one turn. It is an async generator that yields:

- a ``str``: a chunk of the answer (all chunks together are the answer);
- ``Thought(text)``: reasoning shown apart from the answer;
- ``ToolCall(id, name, args)``: ``args`` is any JSON-serializable value;
- ``Step(index, description)``: progress;
- ``Usage(prompt, cached, candidates, thoughts, total)``: token counts (ints or
  ``None``); the last one yielded is the turn's usage;
- ``StructuredOutput(value)``: the structured answer (JSON-serializable).

Anything else fails the turn with an error naming the object's type, and so does a
``str`` that is no valid Unicode text (a lone surrogate), after the text before it. For the simplest
agents ``chat`` may instead be a coroutine returning the whole answer as a ``str``.

Turns of one agent run one at a time, in call order; many agents run concurrently on
the one loop, so never block it (use ``await``, or ``asyncio.to_thread`` for blocking
work): the plugin logs a warning with the agent and its stack when the loop has not
come back for over a second. A cancelled turn (the application cancelled it or dropped its handle) is an
``asyncio.CancelledError`` at the ``await`` or ``yield`` where your generator is
suspended; let it propagate.

Errors
======

Raise ``QuotaExceeded(retry_after=seconds, message=...)`` when the provider refuses for
quota (the host backs off for that key), ``AgentError(message)`` for a failure whose
message says it all, ``InvalidConfig(message)`` for a config problem. Any other exception
fails the turn with its type, message and full traceback.

Optional hooks
==============

The host keeps each agent's history (user then model message per completed turn), turn
count, usage and last response. Define any of these methods to answer from your agent
instead; each may be sync or ``async``:

``history() -> list[Message]``, ``turn_count() -> int``, ``total_usage() -> Usage``,
``last_turn_usage() -> Usage``, ``clear_history()``, ``last_response() -> str | None``,
``compaction_indices() -> list[int]``, ``on_cancel()`` (after a turn of this agent was
cancelled, before the next one starts), ``shutdown()`` (at shutdown and delete),
``delete()`` (at delete, after ``shutdown()``: forget anything saved),
``disconnect()``.

Time limits are the host's: with ``[plugins.python] call_timeout_ms`` set, a turn or a
call that takes longer fails with a timeout error, and the turn's task is cancelled (its
generator sees ``CancelledError``), even while an agent blocks the event loop.
``on_cancel()`` runs only for a turn that had started; a turn cancelled while queued
never reaches the agent.

The application's tools
=======================

The application may hand an agent tools of its own (Rust handlers, see the README's
"The application's tools"). ``config.tools`` are the agent's declarations (``Tool``:
name, description, parameter_schema: what its model is told); ``config.host_tools`` is an
``agent_host.Tools`` with the ones the host runs, as awaitables::

    class WeatherAgent:
        def __init__(self, config):
            self.tools = config.host_tools          # "weather" in self.tools, .names

        async def chat(self, content):
            try:
                report = await self.tools.call("weather", city="Paris")  # or a dict
            except agent_host.ToolError as error:  # failed, panicked, or no such tool
                report = f"error: {error.message}"
            yield f"{report}"

``call`` returns the tool's JSON result as Python values. Several calls may run at once
(``asyncio.gather``); each call's ``ToolCall`` and ``ToolResult`` events go on the turn's
handle and into its history (user message, then per call the model's request and the
tool's answer, then the answer) without the agent yielding anything; the handler runs
on the host's tokio runtime, never on the loop. Calls work inside chat turns only (not
in turns of ``send``, nor outside a turn); a cancelled turn drops its pending calls. An
agent may still yield ``ToolCall`` for tools it runs itself. An agent with its own
``history()`` hook answers the history itself, tool messages included or not.

Content
=======

``Text(text)``, ``Image``/``Document``/``Audio``/``Video(data: bytes, mime_type,
description=None)`` and ``Multi(parts)`` are frozen dataclasses; ``Content`` is their
union and ``content_text(content)`` joins every text part with newlines (media
skipped). ``Message(role, content)`` is a history entry, ``role`` being ``"user"``,
``"model"``, ``"system"`` or any other string.
"""

from ._config import AgentConfig, Tool
from ._content import (
    Audio,
    Content,
    Document,
    Image,
    Message,
    Multi,
    Text,
    Video,
    content_text,
)
from ._events import (
    AgentError,
    AgentHostError,
    InvalidConfig,
    QuotaExceeded,
    Step,
    StructuredOutput,
    Thought,
    ToolCall,
    ToolError,
    Usage,
)
from ._tools import Tools

__all__ = [
    "AgentConfig",
    "Tool",
    "Tools",
    "Content",
    "Text",
    "Image",
    "Document",
    "Audio",
    "Video",
    "Multi",
    "Message",
    "content_text",
    "Thought",
    "ToolCall",
    "Step",
    "Usage",
    "StructuredOutput",
    "AgentHostError",
    "QuotaExceeded",
    "InvalidConfig",
    "AgentError",
    "ToolError",
]

__version__ = "0.1.0"
