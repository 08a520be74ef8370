"""What an agent's ``chat`` yields besides text, and the exceptions the host understands.

Events are small frozen dataclasses: they are created per event, so they use slots and
validate only what the Rust side could not represent (negative or non-integer counts),
turning a would-be conversion error deep in the bridge into a clear message here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Optional

__all__ = [
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

_U32_MAX = 2**32 - 1


@dataclass(frozen=True, slots=True)
class Thought:
    """A piece of the model's reasoning, shown apart from the answer."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolCall:
    """The model asks for a tool; ``args`` is any JSON-serializable value."""

    id: str
    name: str
    args: Any = None


@dataclass(frozen=True, slots=True)
class Step:
    """Progress marker: the turn reached step ``index`` (a non-negative int)."""

    index: int
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.index, int) or not 0 <= self.index <= _U32_MAX:
            raise ValueError(f"Step.index must be an int in 0..=2**32-1, got {self.index!r}")


def _check_count(name: str, value: object) -> None:
    if value is not None and (
        not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= _U32_MAX
    ):
        raise ValueError(f"Usage.{name} must be None or an int in 0..=2**32-1, got {value!r}")


UsageTuple = tuple[Optional[int], Optional[int], Optional[int], Optional[int], Optional[int]]
"""``(prompt, cached, candidates, thoughts, total)``: token counts on the wire."""


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts; ``None`` means "not reported".

    Yielded by ``chat``: the last ``Usage`` of a turn is that turn's usage. Also what the
    optional ``total_usage``/``last_turn_usage`` hooks return. ``a + b`` adds counts the
    way the host does: ``None + None`` stays ``None``, otherwise ``None`` counts as 0.
    """

    prompt: Optional[int] = None
    cached: Optional[int] = None
    candidates: Optional[int] = None
    thoughts: Optional[int] = None
    total: Optional[int] = None

    def __post_init__(self) -> None:
        _check_count("prompt", self.prompt)
        _check_count("cached", self.cached)
        _check_count("candidates", self.candidates)
        _check_count("thoughts", self.thoughts)
        _check_count("total", self.total)

    def __add__(self, other: "Usage") -> "Usage":
        if not isinstance(other, Usage):
            return NotImplemented
        return Usage(*(_add(a, b) for a, b in zip(self.as_tuple(), other.as_tuple())))

    def as_tuple(self) -> UsageTuple:
        """``(prompt, cached, candidates, thoughts, total)``: the wire form."""
        return (self.prompt, self.cached, self.candidates, self.thoughts, self.total)

    def __iter__(self) -> Iterator[Optional[int]]:
        return iter(self.as_tuple())


def _add(a: Optional[int], b: Optional[int]) -> Optional[int]:
    if a is None and b is None:
        return None
    # Saturating, like the Rust side (counts are u32 there).
    return min((a or 0) + (b or 0), _U32_MAX)


@dataclass(frozen=True, slots=True)
class StructuredOutput:
    """The turn's structured answer (for a config with a ``response_schema``).

    ``value`` must be JSON-serializable; the last one yielded wins.
    """

    value: Any


class AgentHostError(Exception):
    """Base of the exceptions the host maps to a specific error kind."""

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class QuotaExceeded(AgentHostError):
    """The model provider refused for quota; becomes ``Error::QuotaExceeded`` in Rust.

    ``retry_after`` (seconds) is recorded in the runtime's quota registry, so
    ``wait_for_quota`` backs off at least that long. The plugin clamps it to
    0 .. 86400 (24 h), logging a warning for a value outside (negative, larger, infinite);
    NaN counts as no hint.
    """

    def __init__(self, retry_after: float | str | None = None, message: str = "") -> None:
        # Forgive ``QuotaExceeded("slow down")``: a string first argument is the message.
        if isinstance(retry_after, str) and not message:
            retry_after, message = None, retry_after
        if retry_after is not None:
            retry_after = float(retry_after)  # out-of-range values: see the docstring
        self.retry_after: Optional[float] = retry_after
        super().__init__(message or "quota exceeded")


class InvalidConfig(AgentHostError):
    """The agent cannot work with its config; becomes ``Error::InvalidConfig``.

    Raise it (or ``ValueError``) from the agent's constructor.
    """


class AgentError(AgentHostError):
    """A plain backend failure whose message says it all: no traceback is attached."""


class ToolError(AgentError):
    """A host tool's call failed: its handler returned an error or panicked, the host
    offers no such tool, or the turn ended first. ``message`` is what the host said (hand
    it to your model); ``tool`` is the tool's name. Left uncaught it fails the turn with
    that message, like ``AgentError``.
    """

    def __init__(self, message: str, tool: str = "") -> None:
        super().__init__(message)
        self.tool = tool
