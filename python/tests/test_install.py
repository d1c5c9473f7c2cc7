"""`pip install ./python` works offline, with pip's build isolation, into a fresh virtualenv."""

from __future__ import annotations

import shutil
import subprocess
import sys

from helpers import PYTHON_DIR, ProjectTestCase, child_env, cli_json, make_project


class InstallTest(ProjectTestCase):
    def test_pip_installs_the_package_offline_and_it_records_an_experiment(self) -> None:
        venv = make_project() / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
        python = venv / "bin" / "python"
        env = child_env()
        env.pop("PYTHONPATH")
        # A copy, because setuptools writes build/ and *.egg-info beside the sources.
        source = make_project() / "python"
        shutil.copytree(PYTHON_DIR, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "tests"))
        # --no-index: no package index at all, as on a machine without network.
        installed = subprocess.run(
            [str(python), "-m", "pip", "install", "--no-index", "--disable-pip-version-check", str(source)],
            capture_output=True, text=True, env=env, timeout=600,
        )
        self.assertEqual(installed.returncode, 0, installed.stdout + installed.stderr)
        project = make_project({"train.py": "import cairn\nwith cairn.init(params={'installed': True}) as e:\n    e.checkpoint(metrics={'loss': 1})\nprint(cairn.__file__)\n"})
        ran = subprocess.run([str(python), "train.py"], cwd=project, capture_output=True, text=True, env=env, timeout=300)
        self.assertEqual(ran.returncode, 0, ran.stderr)
        self.assertTrue(ran.stdout.strip().startswith(str(venv)), ran.stdout)
        (experiment,) = cli_json(project, "ls")
        self.assertEqual(experiment["params"], {"installed": True})
        self.assertEqual(experiment["status"], "stopped")
