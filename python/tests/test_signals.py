"""Interrupted training scripts end with their experiment stopped, every checkpoint published,
and no core process left behind.

Each script runs as the leader of its own process group, as a job in a terminal does; a
terminal's Ctrl-C is SIGINT to that group.
"""

from __future__ import annotations

import os
import signal

from helpers import ProjectTestCase, cli_json, make_project, start_python, terminate_group, wait_for_line, wait_until

LOOP = """
import sys
import time

import cairn
from cairn._core import get_core

mode = sys.argv[1]
experiment = cairn.init(path=".", params={"mode": mode})
print("experiment", experiment.id, get_core().process.pid, flush=True)
step = 0
try:
    while True:
        with open("model.bin", "wb") as f:
            f.write(f"weights {step}".encode())
        experiment.checkpoint(path="model.bin", step=step, metrics={"loss": 1 / (step + 1)}, primary_metric=("loss", "minimize"))
        if step == 2:
            print("ready", flush=True)
        step += 1
        time.sleep(0.02)
except KeyboardInterrupt:
    if mode != "catch":
        raise
    # A script may catch Ctrl-C to record a last checkpoint: the core is still there for it.
    experiment.checkpoint(step=1000, metrics={"loss": 0.0}, primary_metric=("loss", "minimize"))
    print("caught", flush=True)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(")")[-1].split()[0] != "Z"


class InterruptedScriptTest(ProjectTestCase):
    def run_until_ready(self, mode: str):
        project = make_project({"loop.py": LOOP})
        process = start_python(project, ["loop.py", mode])
        self.addCleanup(terminate_group, process)
        _, experiment_id, core_pid = wait_for_line(process, "experiment ").split()
        wait_for_line(process, "ready")
        return project, process, experiment_id, int(core_pid)

    def assertStoppedWithCheckpoints(self, project, experiment_id, core_pid) -> dict:
        # Python waited for the core: nothing is left running, and the record is final already.
        self.assertFalse(alive(core_pid), "the core process outlived the script")
        (experiment,) = cli_json(project, "ls")
        self.assertEqual(experiment["id"], experiment_id)
        self.assertEqual(experiment["status"], "stopped")
        shown = cli_json(project, "show", experiment_id)
        steps = [c["step"] for c in shown["checkpoints"]]
        self.assertGreaterEqual(len(steps), 3)
        self.assertEqual(steps[:3], [0, 1, 2])
        return shown

    def test_ctrl_c_stops_the_experiment(self) -> None:
        project, process, experiment_id, core_pid = self.run_until_ready("raise")
        os.killpg(process.pid, signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
        self.assertIn("KeyboardInterrupt", stderr)
        self.assertNotEqual(process.returncode, 0)
        self.assertStoppedWithCheckpoints(project, experiment_id, core_pid)

    def test_a_script_that_catches_ctrl_c_can_still_record(self) -> None:
        project, process, experiment_id, core_pid = self.run_until_ready("catch")
        os.killpg(process.pid, signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
        self.assertEqual(process.returncode, 0, stderr)
        self.assertIn("caught", stdout)
        shown = self.assertStoppedWithCheckpoints(project, experiment_id, core_pid)
        self.assertEqual(shown["checkpoints"][-1]["step"], 1000)

    def test_sigterm_to_the_script_stops_the_experiment(self) -> None:
        project, process, experiment_id, core_pid = self.run_until_ready("raise")
        os.kill(process.pid, signal.SIGTERM)
        process.communicate(timeout=120)
        self.assertEqual(process.returncode, 128 + signal.SIGTERM)
        self.assertStoppedWithCheckpoints(project, experiment_id, core_pid)

    def test_sigterm_to_the_whole_group_stops_the_experiment(self) -> None:
        project, process, experiment_id, core_pid = self.run_until_ready("raise")
        os.killpg(process.pid, signal.SIGTERM)
        process.communicate(timeout=120)
        self.assertEqual(process.returncode, 128 + signal.SIGTERM)
        self.assertStoppedWithCheckpoints(project, experiment_id, core_pid)

    def test_a_killed_script_leaves_the_core_to_stop_and_publish(self) -> None:
        project, process, experiment_id, core_pid = self.run_until_ready("raise")
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate(timeout=120)
        # No atexit ran; the core sees its input end, stops the experiment and exits.
        wait_until(lambda: not alive(core_pid), what="the core to exit")
        self.assertStoppedWithCheckpoints(project, experiment_id, core_pid)


CORE_KILLED = """
import os
import signal

import cairn
from cairn._core import get_core

experiment = cairn.init(path=".", params={})
experiment.checkpoint(step=0, metrics={"loss": 1.0})
os.kill(get_core().process.pid, signal.SIGKILL)
get_core().process.wait()
for step in range(1, 4):
    print("recorded", experiment.checkpoint(step=step, metrics={"loss": 1.0 / step}), flush=True)
experiment.stop()
print("training finished", flush=True)
"""


class CoreKilledTest(ProjectTestCase):
    def test_training_goes_on_when_the_core_is_killed(self) -> None:
        from helpers import run_python

        project = make_project({"script.py": CORE_KILLED})
        result = run_python(project, ["script.py"])
        self.assertEqual(result.code, 0, result)
        self.assertIn("training finished", result.stdout)
        self.assertEqual(result.stdout.count("recorded None"), 3)
        # Said once, on stderr: what happened and where the captured checkpoints are.
        self.assertEqual(result.stderr.count("are no longer recorded"), 1, result.stderr)
        self.assertIn("was killed by signal 9", result.stderr)
