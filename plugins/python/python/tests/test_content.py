"""Content wire format, text extraction, config parsing and event values."""

from __future__ import annotations

import json
import unittest

from agent_host import (
    AgentConfig,
    Audio,
    Document,
    Image,
    InvalidConfig,
    Multi,
    QuotaExceeded,
    Step,
    Text,
    Tool,
    Usage,
    Video,
    content_text,
)
from agent_host._content import from_parts, to_parts


class ContentTests(unittest.TestCase):
    def test_round_trip_of_every_kind(self) -> None:
        content = Multi(
            [
                Text("a"),
                Image(b"\x89PNG", "image/png"),
                Multi([Document(b"%PDF", "application/pdf", "a pdf"), Multi([])]),
                Audio(b"", "audio/wav"),
                Video(bytes(range(256)), "video/mp4", None),
                Text(""),
            ]
        )
        parts = to_parts(content)
        self.assertEqual(parts[0], ("multi", 6))
        self.assertEqual(parts[2], ("image", b"\x89PNG", "image/png", None))
        self.assertEqual(from_parts(parts), content)

    def test_single_text(self) -> None:
        text = from_parts([("text", "hi")])
        self.assertEqual(text, Text("hi"))
        self.assertIs(type(text), Text)
        self.assertEqual((repr(text), hash(text)), (repr(Text("hi")), hash(Text("hi"))))
        with self.assertRaises(AttributeError):  # still frozen
            text.text = "changed"  # type: ignore[misc]
        self.assertEqual(to_parts(Text("hi")), [("text", "hi")])
        self.assertEqual(to_parts("bare"), [("text", "bare")])

    def test_lists_and_bytearrays_are_accepted(self) -> None:
        parts = [["multi", 1], ["image", bytearray(b"xy"), "image/png", "desc"]]
        self.assertEqual(from_parts(parts), Multi([Image(b"xy", "image/png", "desc")]))
        self.assertIs(type(from_parts(parts).parts[0].data), bytes)  # type: ignore[union-attr]

    def test_malformed_parts(self) -> None:
        for parts in (
            [],
            [("multi", 2), ("text", "a")],
            [("text", "a"), ("text", "b")],
            [("sticker", b"", "x", None)],
            [("text", 3)],
            [("multi", -1)],
        ):
            with self.subTest(parts=parts), self.assertRaises(ValueError):
                from_parts(parts)

    def test_deep_nesting_needs_no_recursion(self) -> None:
        depth = 5000
        parts = [("multi", 1)] * depth + [("text", "deep")]
        content = from_parts(parts)
        self.assertEqual(content_text(content), "deep")
        self.assertEqual(to_parts(content), parts)

    def test_content_text_matches_rust(self) -> None:
        content = Multi([Text("a"), Image(b"1", "image/png"), Text(""), Multi([Text("b")])])
        self.assertEqual(content_text(content), "a\nb")
        self.assertEqual(content_text(Image(b"", "image/png")), "")
        self.assertEqual(content_text(Text("x")), "x")
        self.assertEqual(content_text(Multi([Text(""), Text("y")])), "y")


class ConfigTests(unittest.TestCase):
    def test_missing_keys_default(self) -> None:
        config = AgentConfig.from_json('{"model": "m"}')
        self.assertEqual(config, AgentConfig(model="m"))
        self.assertEqual(config.tools, [])
        self.assertEqual(config.extras, {})
        self.assertEqual(AgentConfig.from_json("{}").model, "")

    def test_full_serde_shape(self) -> None:
        source = {
            "model": "gemini-x",
            "api_key": "k",
            "system_instructions": "be brief",
            "tools": [
                {"name": "search", "description": "web", "parameter_schema": {"type": "object"}}
            ],
            "response_schema": {"type": "object"},
            "conversation_id": "c1",
            "save_dir": "/tmp/x",
            "max_quota_retries": 3,
            "extras": {"temperature": 0.2},
            "a_future_key": True,
        }
        config = AgentConfig.from_json(json.dumps(source))
        self.assertEqual(config.tools, [Tool("search", "web", {"type": "object"})])
        self.assertEqual(config.max_quota_retries, 3)
        self.assertEqual(config.extras, {"temperature": 0.2})
        self.assertEqual(config.save_dir, "/tmp/x")
        self.assertEqual(config.resolved_api_key(), "k")

    def test_bad_configs(self) -> None:
        for source in (
            "not json",
            "[]",
            '{"model": 3}',
            '{"tools": [{"description": "no name"}]}',
            '{"max_quota_retries": -1}',
            '{"extras": []}',
            '{"response_schema": "x"}',
        ):
            with self.subTest(source=source), self.assertRaises(InvalidConfig):
                AgentConfig.from_json(source)


class EventTests(unittest.TestCase):
    def test_usage_adds_like_rust(self) -> None:
        total = Usage(prompt=2, total=5) + Usage(prompt=3, candidates=1)
        self.assertEqual(total, Usage(prompt=5, candidates=1, total=5))
        self.assertEqual(Usage() + Usage(), Usage())
        self.assertEqual(tuple(Usage(1, 2, 3, 4, 5)), (1, 2, 3, 4, 5))

    def test_bad_counts_are_refused(self) -> None:
        with self.assertRaises(ValueError):
            Usage(prompt=-1)
        with self.assertRaises(ValueError):
            Usage(total=2**32)
        with self.assertRaises(ValueError):
            Step(-1, "x")

    def test_quota_exceeded(self) -> None:
        error = QuotaExceeded(retry_after=2, message="slow")
        self.assertEqual((error.retry_after, error.message), (2.0, "slow"))
        forgiving = QuotaExceeded("slow down")
        self.assertEqual((forgiving.retry_after, forgiving.message), (None, "slow down"))
        self.assertEqual(QuotaExceeded().message, "quota exceeded")


if __name__ == "__main__":
    unittest.main()
