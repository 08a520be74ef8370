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
save_dir, max_quota_retries, extras). Raise ``InvalidConfig`` (or ``ValueError``) there
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
    Usage,
)

__all__ = [
    "AgentConfig",
    "Tool",
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
]

__version__ = "0.1.0"
