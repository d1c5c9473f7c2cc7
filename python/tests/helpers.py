"""Shared by the binding's tests: real temporary projects, real Python subprocesses, the real CLI.

The tests drive the built core (``dist/cli/main.js``, made by ``npm run build``) through
``CAIRN_CORE``; test_discovery.py checks the other ways of finding it.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest
from pathlib import Path
from typing import Any, Dict, List, Optional

PYTHON_DIR = Path(__file__).resolve().parent.parent
ROOT = PYTHON_DIR.parent
CLI = ROOT / "dist" / "cli" / "main.js"
NODE = shutil.which("node") or "node"
CORE_COMMAND = f"{NODE} {CLI}"

if not CLI.is_file():
    raise SystemExit(f"{CLI} is missing: run `npm run build` first.")

# The tests' own process uses the binding too (test_api.py): point it at the built core, and
# keep every cache and repository inside temporary folders.
_SESSION_TMP = tempfile.mkdtemp(prefix="cairn-python-tests-")
os.environ["CAIRN_CORE"] = CORE_COMMAND
os.environ["CAIRN_CACHE_DIR"] = os.path.join(_SESSION_TMP, "cache")
os.environ["CAIRN_HEARTBEAT_INTERVAL"] = "0.2"
os.environ["NO_COLOR"] = "1"
os.environ["MPLBACKEND"] = "Agg"
os.environ.pop("CAIRN_REPOSITORY", None)
if str(PYTHON_DIR) not in sys.path:
    sys.path.insert(0, str(PYTHON_DIR))


def make_project(files: Optional[Dict[str, str]] = None) -> Path:
    """A fresh folder with ``files`` in it (dedented), removed at the end of the test run."""
    directory = Path(tempfile.mkdtemp(prefix="project-", dir=_SESSION_TMP)).resolve()
    for name, text in (files or {}).items():
        target = directory / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text))
    return directory


def child_env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(PYTHON_DIR) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("CAIRN_REPOSITORY", None)
    env.update(extra or {})
    return env


class Result:
    def __init__(self, code: int, stdout: str, stderr: str) -> None:
        self.code = code
        self.stdout = stdout
        self.stderr = stderr

    def __repr__(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def run_python(cwd: Path, args: List[str], env: Optional[Dict[str, str]] = None, timeout: float = 300) -> Result:
    """Runs ``python3 ARGS`` (this interpreter: Debian's, with python3-torch) in ``cwd``."""
    completed = subprocess.run([sys.executable, *args], cwd=cwd, env=child_env(env), capture_output=True, text=True, timeout=timeout)
    return Result(completed.returncode, completed.stdout, completed.stderr)


def start_python(cwd: Path, args: List[str], env: Optional[Dict[str, str]] = None) -> subprocess.Popen:
    """Starts ``python3 ARGS`` as the leader of its own process group, like a job in a terminal."""
    return subprocess.Popen(
        [sys.executable, *args], cwd=cwd, env=child_env(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )


def wait_for_line(process: subprocess.Popen, prefix: str, timeout: float = 120) -> str:
    """Reads the process's stdout until a line starts with ``prefix``; returns that line."""
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line == "" and process.poll() is not None:
            raise AssertionError(f"process exited ({process.returncode}) before printing {prefix!r}: {process.stderr.read() if process.stderr else ''}")
        if line.startswith(prefix):
            return line.strip()
    raise AssertionError(f"no line starting with {prefix!r} within {timeout} s")


def cli(cwd: Path, *args: str, check: bool = True) -> Result:
    """Runs the built CLI (`cairn ARGS`) in ``cwd``."""
    completed = subprocess.run([NODE, str(CLI), *args], cwd=cwd, env=child_env(), capture_output=True, text=True, timeout=120)
    result = Result(completed.returncode, completed.stdout, completed.stderr)
    if check and completed.returncode != 0:
        raise AssertionError(f"cairn {' '.join(args)} failed: {result!r}")
    return result


def cli_json(cwd: Path, *args: str) -> Any:
    return json.loads(cli(cwd, *args, "--json").stdout)


def wait_until(predicate, timeout: float = 60, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def terminate_group(process: subprocess.Popen) -> None:
    """Cleanup for a test that failed half-way: no stray processes."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except OSError:
            pass
        process.wait()


def cleanup_session() -> None:
    shutil.rmtree(_SESSION_TMP, ignore_errors=True)


# Registered before the tests import cairn, so it runs after cairn's own exit handler (atexit
# runs last-registered first) has stopped the core that uses these folders.
atexit.register(cleanup_session)


class ProjectTestCase(unittest.TestCase):
    maxDiff = None
