"""Finding the core: CAIRN_CORE, else `cairn` on PATH, else the source checkout; and clear
messages when there is none, or when what was found is not Cairn's core."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from helpers import CLI, NODE, PYTHON_DIR, ProjectTestCase, make_project, run_python

SCRIPT = """
import cairn
from cairn._core import get_core
try:
    cairn.experiments.list()
except cairn.CoreNotFoundError as error:
    print("CoreNotFoundError:", error)
else:
    print("core:", " ".join(get_core().command))
"""


def executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


class DiscoveryTest(ProjectTestCase):
    def setUp(self) -> None:
        self.project = make_project({"script.py": SCRIPT})
        # A PATH with node and nothing else: no `cairn` unless a test puts one there.
        self.bin = make_project()
        os.symlink(NODE, self.bin / "node")
        self.env = {"PATH": str(self.bin), "CAIRN_CORE": ""}

    def run_script(self, env=None, package_dir: Path = PYTHON_DIR):
        result = run_python(self.project, ["script.py"], env={**self.env, "PYTHONPATH": str(package_dir), **(env or {})})
        self.assertEqual(result.code, 0, result)
        return result.stdout.strip()

    def test_no_core_anywhere_says_how_to_install_one(self) -> None:
        # The package alone, away from the checkout, as after `pip install`.
        elsewhere = make_project()
        shutil.copytree(PYTHON_DIR / "cairn", elsewhere / "cairn")
        output = self.run_script(package_dir=elsewhere)
        self.assertTrue(output.startswith("CoreNotFoundError:"), output)
        self.assertIn("CAIRN_CORE is not set, there is no `cairn` on PATH", output)
        self.assertIn("npm install -g cairn", output)
        self.assertIn('CAIRN_CORE="node /path/to/cairn/dist/cli/main.js"', output)

    def test_the_source_checkout_is_found_with_node(self) -> None:
        self.assertEqual(self.run_script(), f"core: {self.bin / 'node'} {CLI}")

    def test_cairn_on_path_comes_before_the_checkout(self) -> None:
        marker = self.project / "used-path"
        executable(self.bin / "cairn", f'#!/bin/sh\n: > "{marker}"\nexec "{NODE}" "{CLI}" "$@"\n')
        self.assertEqual(self.run_script(), f"core: {self.bin / 'cairn'}")
        self.assertTrue(marker.exists())

    def test_cairn_core_comes_first(self) -> None:
        executable(self.bin / "cairn", "#!/bin/sh\nexit 1\n")
        self.assertEqual(self.run_script({"CAIRN_CORE": f"{NODE} {CLI}"}), f"core: {NODE} {CLI}")

    def test_a_cairn_core_that_does_not_exist(self) -> None:
        output = self.run_script({"CAIRN_CORE": "/nonexistent/bin/cairn --flag"})
        self.assertIn("Cannot start Cairn's core `/nonexistent/bin/cairn --flag`", output)
        self.assertIn("npm install -g", output)

    def test_a_program_that_is_not_cairns_core(self) -> None:
        output = self.run_script({"CAIRN_CORE": "/bin/sh -c 'echo something else; exit 3'"})
        self.assertIn("did not answer as Cairn's core", output)
        self.assertIn("exited with code 3", output)
        self.assertIn("something else", output)
        self.assertIn("another program named cairn, or a Cairn older than this binding", output)

    def test_an_old_cairn_without_the_protocol(self) -> None:
        old = executable(self.bin / "cairn", "#!/bin/sh\necho \"error: unknown command '$1'\" >&2\nexit 2\n")
        output = self.run_script()
        self.assertIn(f"`{old}` did not answer as Cairn's core", output)
        self.assertIn("error: unknown command '_rpc'", output)
