"""Loading the agent class from the ``agent`` option, and creating agents."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import textwrap
import unittest

from support import HarnessCase, Op, ReplyError  # first: it provides agent_host._native

from agent_host import InvalidConfig
from agent_host._bridge import Bridge
from agent_host.reference import ReferenceAgent


class AgentSpecTests(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.TemporaryDirectory()
        sys.path.insert(0, self.dir.name)

    def tearDown(self) -> None:
        sys.path.remove(self.dir.name)
        for name in [m for m in sys.modules if m.startswith("ah_test_")]:
            del sys.modules[name]
        self.dir.cleanup()

    def write(self, name: str, source: str) -> None:
        with open(os.path.join(self.dir.name, name + ".py"), "w") as file:
            file.write(textwrap.dedent(source))

    def refused(self, spec: str) -> str:
        with self.assertRaises(InvalidConfig) as caught:
            Bridge({"agent": spec})
        message = str(caught.exception)
        self.assertIn(repr(spec), message)
        return message

    def test_default_is_the_reference_agent(self) -> None:
        self.assertIs(Bridge({}).agent_class, ReferenceAgent)
        self.assertIs(Bridge({"agent": None}).agent_class, ReferenceAgent)

    def test_a_user_module(self) -> None:
        self.write("ah_test_ok", "class Agent:\n    def __init__(self, c): pass\n    async def chat(self, c):\n        yield 'x'\n")
        bridge = Bridge({"agent": "ah_test_ok:Agent"})
        self.assertEqual(bridge.agent_class.__name__, "Agent")

    def test_dotted_attribute(self) -> None:
        self.write(
            "ah_test_nested",
            """
            class Outer:
                class Agent:
                    def __init__(self, c): pass
                    async def chat(self, c):
                        yield 'x'
            """,
        )
        self.assertEqual(Bridge({"agent": "ah_test_nested:Outer.Agent"}).agent_class.__name__, "Agent")

    def test_missing_module(self) -> None:
        message = self.refused("ah_test_nowhere:Agent")
        self.assertIn("no module named 'ah_test_nowhere'", message)
        self.assertIn("Traceback", message)

    def test_syntax_error(self) -> None:
        self.write("ah_test_syntax", "def broken(:\n    pass\n")
        message = self.refused("ah_test_syntax:Agent")
        self.assertIn("syntax error", message)
        self.assertIn("SyntaxError", message)
        self.assertIn("Traceback", message)
        self.assertIn("ah_test_syntax.py", message)

    def test_import_time_error(self) -> None:
        self.write("ah_test_raises", "import ah_test_missing_dependency\n")
        message = self.refused("ah_test_raises:Agent")
        self.assertIn("importing module 'ah_test_raises' failed", message)
        self.assertIn("ah_test_missing_dependency", message)
        self.assertIn("Traceback", message)

    def test_missing_attribute(self) -> None:
        message = self.refused("agents:Nobody")
        self.assertIn("has no attribute 'Nobody'", message)

    def test_not_callable(self) -> None:
        self.assertIn("not a class or callable", self.refused("agents:NOT_CALLABLE"))

    def test_class_without_chat(self) -> None:
        self.assertIn("no chat method", self.refused("agents:NoChat"))

    def test_bad_format(self) -> None:
        for spec in ("agents", "agents:", ":Recorder", "a:b:c"):
            with self.subTest(spec=spec):
                self.refused(spec)

class CreateAgentTests(HarnessCase):
    async def test_create_and_refuse(self) -> None:
        h = self.harness("agents:BadInit")
        self.assertEqual(await h.create(), 1)
        for fail, kind, text in (
            ("value", "invalid_config", "value rejected by the agent"),
            ("config", "invalid_config", "config rejected by the agent"),
            ("crash", "backend", "RuntimeError: the agent crashed in __init__"),
        ):
            with self.subTest(fail=fail):
                with self.assertRaises(ReplyError) as caught:
                    await h.create(extras={"fail": fail})
                self.assertEqual(caught.exception.kind, kind)
                self.assertIn(text, caught.exception.message)
        self.assertIn("Traceback", caught.exception.message)

    async def test_reference_refuses_an_empty_model(self) -> None:
        h = self.harness()
        with self.assertRaises(ReplyError) as caught:
            await h.create(model="")
        self.assertEqual(caught.exception.kind, "invalid_config")
        with self.assertRaises(ReplyError) as caught:
            await h.create(extras={"chunk_delay_ms": "slow"})
        self.assertEqual(caught.exception.kind, "invalid_config")
        await h.create()  # refusing a config breaks nothing

    async def test_bad_json_is_invalid_config(self) -> None:
        h = self.harness()
        with self.assertRaises(ReplyError) as caught:
            await h.call(Op.CREATE_AGENT, 7, "{not json")
        self.assertEqual(caught.exception.kind, "invalid_config")
        with self.assertRaises(ReplyError) as caught:
            await h.call(Op.CREATE_AGENT, 8, json.dumps({"model": "m", "tools": 3}))
        self.assertEqual(caught.exception.kind, "invalid_config")

    async def test_every_operation_has_its_method(self) -> None:
        handlers = self.harness().bridge._handlers
        self.assertEqual(len(handlers), len(Op))
        for op in Op:
            self.assertEqual(handlers[op].__name__, op.name.lower(), op)

    async def test_a_code_without_an_operation_is_answered_never_raised(self) -> None:
        # The Rust side sends only Op codes; the bridge still never raises.
        h = self.harness()
        with self.assertRaises(ReplyError) as caught:
            await h.call(len(Op), 1)
        self.assertEqual(caught.exception.kind, "backend")
        self.assertIn(f"operation {len(Op)} failed", caught.exception.message)


if __name__ == "__main__":
    unittest.main()
