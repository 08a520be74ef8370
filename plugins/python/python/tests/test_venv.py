"""``agent_host._venv``: reading a venv's setting, and what the base site-packages add."""

from __future__ import annotations

import os
import sys
import tempfile
import unittest

from agent_host import _venv


class VenvTests(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.TemporaryDirectory()
        self.saved_path = list(sys.path)

    def tearDown(self) -> None:
        sys.path[:] = self.saved_path
        self.dir.cleanup()

    def config(self, text: str) -> str:
        with open(os.path.join(self.dir.name, "pyvenv.cfg"), "w") as file:
            file.write(text)
        return self.dir.name

    def test_the_setting_is_read_as_site_reads_it(self) -> None:
        cases = {
            "home = /x\ninclude-system-site-packages = false\n": False,
            "include-system-site-packages = true\n": True,
            "Include-System-Site-Packages=TRUE\n": True,
            "include-system-site-packages = no\n": False,
            "home = /x\n": True,
        }
        for text, expected in cases.items():
            with self.subTest(text=text):
                self.assertEqual(_venv.includes_system_site_packages(self.config(text)), expected)
        missing = os.path.join(self.dir.name, "none")
        self.assertTrue(_venv.includes_system_site_packages(missing))

    def test_pth_directories_are_found_without_running_imports(self) -> None:
        site = os.path.join(self.dir.name, "site-packages")
        extra = os.path.join(self.dir.name, "extra")
        os.makedirs(site)
        os.makedirs(extra)
        with open(os.path.join(site, "a.pth"), "w") as file:
            file.write(f"# comment\nimport sys; sys.ah_test_ran = True\n{extra}\n/nonexistent/dir\n")
        self.assertEqual(_venv._pth_dirs(site), [extra])
        self.assertFalse(hasattr(sys, "ah_test_ran"))
        sys.path[:] = ["/std", site, extra, "/kept"]
        _venv._hide([site])
        self.assertEqual(sys.path, ["/std", "/kept"])

    def test_activate_puts_the_venv_before_the_base_site_packages(self) -> None:
        venv = self.config("include-system-site-packages = true\n")
        site = os.path.join(venv, "lib", "site-packages")
        os.makedirs(site)
        base = _venv.base_site_dirs()[0]
        sys.path[:] = ["/std", base]
        _venv.activate(venv, site)
        self.assertEqual(sys.path, ["/std", site, base])
        self.config("include-system-site-packages = false\n")
        sys.path[:] = ["/std", base]
        _venv.activate(venv, site)
        self.assertEqual(sys.path, ["/std", site])


if __name__ == "__main__":
    unittest.main()
