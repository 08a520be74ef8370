"""What users and models say, as Python values, and the wire form Rust sends them in.

The Rust side hands content over as a flat list of tuples in pre-order (no nested
Python objects to build on the Rust side, no JSON, raw ``bytes`` for media); this module
turns that list into the frozen dataclasses agents work with, and back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Tuple, Union

__all__ = [
    "Text",
    "Image",
    "Document",
    "Audio",
    "Video",
    "Multi",
    "Content",
    "Message",
    "content_text",
    "from_parts",
    "to_parts",
]


@dataclass(frozen=True, slots=True)
class Text:
    """Plain text."""

    text: str


@dataclass(frozen=True, slots=True)
class _Media:
    """Binary media with its MIME type; the four media kinds share this shape."""

    data: bytes
    mime_type: str
    description: Optional[str] = None


@dataclass(frozen=True, slots=True)
class Image(_Media):
    """An image (``data`` holds the encoded file, e.g. PNG bytes)."""


@dataclass(frozen=True, slots=True)
class Document(_Media):
    """A document such as a PDF."""


@dataclass(frozen=True, slots=True)
class Audio(_Media):
    """An audio clip."""


@dataclass(frozen=True, slots=True)
class Video(_Media):
    """A video clip."""


@dataclass(frozen=True, slots=True)
class Multi:
    """Several pieces of content, in order (they may nest)."""

    parts: List["Content"]


Content = Union[Text, Image, Document, Audio, Video, Multi]
"""Anything a message can hold."""


@dataclass(frozen=True, slots=True)
class Message:
    """One entry of a conversation's history.

    ``role`` is ``"user"``, ``"model"``, ``"system"`` or any other string (kept verbatim
    by the host as an unknown role).
    """

    role: str
    content: Content


_MEDIA_KINDS: dict[str, type[_Media]] = {
    "image": Image,
    "document": Document,
    "audio": Audio,
    "video": Video,
}
_MEDIA_NAMES: dict[type, str] = {cls: name for name, cls in _MEDIA_KINDS.items()}


def content_text(content: Content | str) -> str:
    """All text parts joined with ``"\\n"``; media contributes nothing.

    The same rule as Rust's ``Content::to_text``: empty text parts add no separator, so
    the two sides always agree on what a message "says".
    """
    if isinstance(content, str):
        return content
    if type(content) is Text:
        return content.text
    out: list[str] = []
    _collect_text(content, out)
    return "\n".join(out)


def _collect_text(content: Content | str, out: list[str]) -> None:
    # Iterative, so deeply nested Multi values cannot hit the recursion limit.
    stack: list[Any] = [content]
    while stack:
        item = stack.pop()
        if isinstance(item, Text):
            if item.text:
                out.append(item.text)
        elif isinstance(item, str):
            if item:
                out.append(item)
        elif isinstance(item, Multi):
            stack.extend(reversed(item.parts))


_object_new = object.__new__
_set_text = Text.__dict__["text"].__set__  # the slot itself


def _new_text(text: str) -> Text:
    """``Text(text)`` without the frozen dataclass ``__init__``, which goes through
    ``object.__setattr__``: the same object for about half the cost (one per turn)."""
    value = _object_new(Text)
    _set_text(value, text)
    return value


Part = Tuple[Any, ...]
"""One wire item: ``("text", str)``, ``(kind, bytes, mime_type, description)`` or
``("multi", n)`` followed by its ``n`` parts."""


def from_parts(parts: Sequence[Part]) -> Content:
    """Builds the content a pre-order list of wire parts describes.

    Raises ``ValueError`` on a malformed list (unknown kind, too few or too many parts),
    so a bug on either side shows up as a clear error instead of wrong content.
    """
    if len(parts) == 1:
        # The common case, a single text part, without the general machinery.
        item = parts[0]
        if item[0] == "text":
            text = item[1]
            return _new_text(text) if type(text) is str else Text(_as_str(text, "text"))
    position, content = _parse(parts, 0)
    if position != len(parts):
        raise ValueError(
            f"content parts: {len(parts) - position} part(s) left over after one complete content"
        )
    return content


def _parse(parts: Sequence[Part], position: int) -> tuple[int, Content]:
    """Parses the content starting at ``position``; returns where the next one starts.

    Iterative (an explicit stack of open ``Multi`` values), for the same reason as
    ``_collect_text``.
    """
    # Each frame: (children collected so far, how many children the Multi declared).
    open_multis: list[tuple[list[Content], int]] = []
    while True:
        if position >= len(parts):
            raise ValueError("content parts end too early")
        item = parts[position]
        position += 1
        kind = item[0]
        done: Content | None = None
        if kind == "text":
            done = Text(_as_str(item[1], "text"))
        elif kind == "multi":
            count = item[1]
            if not isinstance(count, int) or count < 0:
                raise ValueError(f"content parts: bad child count {count!r} for multi")
            if count == 0:
                done = Multi([])
            else:
                open_multis.append(([], count))
                continue
        else:
            media_cls = _MEDIA_KINDS.get(kind)
            if media_cls is None:
                raise ValueError(f"content parts: unknown part kind {kind!r}")
            data = item[1]
            if type(data) is not bytes:
                # bytearray, memoryview or a list of ints all mean the same bytes.
                data = bytes(data)
            description = item[3] if len(item) > 3 else None
            done = media_cls(
                data,
                _as_str(item[2], "mime_type"),
                None if description is None else _as_str(description, "description"),
            )
        # Hand the finished content to its parent, closing every Multi it completes.
        while open_multis:
            children, count = open_multis[-1]
            children.append(done)
            if len(children) < count:
                break
            open_multis.pop()
            done = Multi(children)
        else:
            return position, done


def _as_str(value: object, what: str) -> str:
    if type(value) is str:
        return value
    if isinstance(value, str):
        return str(value)
    raise ValueError(f"content parts: {what} must be a str, got {type(value).__name__}")


def to_parts(content: Content | str) -> list[Part]:
    """The wire form of ``content`` (the inverse of ``from_parts``).

    A bare ``str`` is accepted as ``Text`` so agents' history hooks may use plain strings.
    """
    out: list[Part] = []
    stack: list[Any] = [content]
    while stack:
        item = stack.pop()
        if isinstance(item, Text):
            out.append(("text", item.text))
        elif isinstance(item, str):
            out.append(("text", str(item)))
        elif isinstance(item, Multi):
            out.append(("multi", len(item.parts)))
            stack.extend(reversed(item.parts))
        elif isinstance(item, _Media):
            name = _MEDIA_NAMES.get(type(item))
            if name is None:
                # A subclass of one of the four kinds; the bare base has no wire name.
                name = next(
                    (n for cls, n in _MEDIA_NAMES.items() if isinstance(item, cls)), None
                )
                if name is None:
                    raise TypeError("not content: use Image, Document, Audio or Video")
            out.append((name, bytes(item.data), item.mime_type, item.description))
        else:
            raise TypeError(
                f"not content: {type(item).__module__}.{type(item).__qualname__} "
                "(expected Text, Image, Document, Audio, Video, Multi or str)"
            )
    return out
