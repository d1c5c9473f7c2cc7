"""The issue's two scripts, for real: training with PyTorch, then inference from the best checkpoint.

A tiny linear model learns a made-up data set; each epoch saves model.pth and records it. The
test then reads the experiment with the CLI (`cairn ls/show --json`), loads the best checkpoint
back through `checkpoint.open()` and compares every tensor with what the script saved at that
step, and checks the checkpoint out by its own ID with `cairn checkout`.
"""

from __future__ import annotations

import math
import platform

from helpers import ProjectTestCase, cli, cli_json, make_project, run_python

TRAIN = """
import math
import sys

import numpy as np
import torch

import cairn

expected = sys.argv[1]
num_epochs = 5
torch.manual_seed(0)
inputs = torch.randn(64, 3)
targets = inputs @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.1
model = torch.nn.Linear(3, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)


def train():
    experiment = cairn.init(path=".", params={"lr": 0.05, "epochs": num_epochs})
    print("experiment", experiment.id, flush=True)
    for epoch in range(num_epochs):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(inputs), targets)
        loss.backward()
        optimizer.step()
        torch.save(model.state_dict(), "model.pth")
        torch.save(model.state_dict(), f"{expected}/step-{epoch}.pth")
        # A 0-d tensor, a numpy scalar and a Python float, as scripts pass them.
        experiment.checkpoint(
            path="model.pth",
            step=epoch,
            metrics={"loss": loss.detach(), "mae": np.float32((model(inputs) - targets).abs().mean().item()), "epoch_fraction": (epoch + 1) / num_epochs},
            primary_metric=("loss", "minimize"),
        )
    # Training diverges at the end: NaN and infinity are recorded as such, and best() skips them.
    torch.save(model.state_dict(), "model.pth")
    experiment.checkpoint(path="model.pth", step=num_epochs, metrics={"loss": float("nan"), "mae": float("inf"), "epoch_fraction": -math.inf}, primary_metric=("loss", "minimize"))
    experiment.stop()
    print("best", experiment.best().id, experiment.best().step, flush=True)


train()
"""

INFER = """
import sys

import torch

import cairn

experiment = cairn.experiments.get(sys.argv[1][:7])
checkpoint = experiment.best()
model = torch.nn.Linear(3, 1)
model.load_state_dict(torch.load(checkpoint.open("model.pth")))

expected = torch.load(f"{sys.argv[2]}/step-{checkpoint.step}.pth")
loaded = model.state_dict()
assert loaded.keys() == expected.keys(), (loaded.keys(), expected.keys())
for name in expected:
    assert torch.equal(loaded[name], expected[name]), name
print("loaded", checkpoint.id, checkpoint.step, flush=True)

# The files of any checkpoint by its own ID, into a folder.
latest = cairn.checkpoints.get(experiment.latest().id[:9])
result = latest.checkout(output_directory="checked-out")
print("checked out", result.written, flush=True)
"""


class TrainingTest(ProjectTestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.project = make_project({"train.py": TRAIN, "infer.py": INFER})
        cls.expected = make_project()
        cls.trained = run_python(cls.project, ["train.py", str(cls.expected)])
        assert cls.trained.code == 0, cls.trained
        cls.experiment_id = cls.trained.stdout.split("experiment ", 1)[1].split()[0]

    def test_the_cli_lists_the_experiment_stopped_with_its_best_and_latest_checkpoints(self) -> None:
        listed = cli_json(self.project, "ls")
        self.assertEqual([e["id"] for e in listed], [self.experiment_id])
        experiment = listed[0]
        self.assertEqual(experiment["status"], "stopped")
        self.assertEqual(experiment["params"], {"lr": 0.05, "epochs": 5})
        self.assertEqual(experiment["primaryMetric"], {"name": "loss", "goal": "minimize"})
        self.assertEqual(experiment["latest"]["step"], 5)
        self.assertEqual(experiment["latest"]["metrics"], {"loss": "NaN", "mae": "Infinity", "epoch_fraction": "-Infinity"})
        # Loss falls every epoch here, so the best finite one is the last before divergence.
        self.assertEqual(experiment["best"]["step"], 4)
        best_line = self.trained.stdout.split("best ", 1)[1].split()
        self.assertEqual(best_line, [experiment["best"]["id"], "4"])

    def test_the_cli_shows_the_python_environment_and_packages(self) -> None:
        shown = cli_json(self.project, "show", self.experiment_id[:7])
        environment = shown["environment"]
        self.assertEqual(environment["runtimes"]["python"], platform.python_version())
        self.assertEqual(environment["command"][1:], ["train.py", str(self.expected)])
        self.assertTrue(environment["command"][0].startswith("python"), environment["command"])
        self.assertEqual(environment["workingDirectory"], str(self.project))
        from importlib.metadata import version

        # The installed distribution's version (torch.__version__ may omit a local suffix).
        self.assertEqual(shown["dependencies"]["torch"], {"source": "imported", "declared": None, "installed": version("torch")})
        self.assertEqual(shown["dependencies"]["numpy"]["installed"], version("numpy"))
        self.assertNotIn("cairn", shown["dependencies"])
        self.assertEqual(len(shown["checkpoints"]), 6)
        metrics = shown["checkpoints"][2]["metrics"]
        self.assertIsInstance(metrics["loss"], float)
        self.assertIsInstance(metrics["mae"], float)
        self.assertAlmostEqual(metrics["epoch_fraction"], 0.6)

    def test_the_inference_script_loads_the_best_checkpoint_with_identical_tensors(self) -> None:
        result = run_python(self.project, ["infer.py", self.experiment_id, str(self.expected)])
        self.assertEqual(result.code, 0, result)
        self.assertIn("loaded", result.stdout)
        self.assertIn(" 4\n", result.stdout.split("loaded", 1)[1])
        self.assertIn("checked out ['model.pth']", result.stdout)
        import torch

        final = torch.load(self.project / "checked-out" / "model.pth")
        for name, tensor in torch.load(self.project / "model.pth").items():
            self.assertTrue(torch.equal(final[name], tensor), name)

    def test_the_cli_checks_out_a_checkpoint_by_its_id(self) -> None:
        shown = cli_json(self.project, "show", self.experiment_id)
        checkpoint = next(c for c in shown["checkpoints"] if c["step"] == 2)
        out = self.project / "by-id"
        cli(self.project, "checkout", checkpoint["id"][:8], "-o", str(out))
        import torch

        loaded = torch.load(out / "model.pth")
        expected = torch.load(self.expected / "step-2.pth")
        for name in expected:
            self.assertTrue(torch.equal(loaded[name], expected[name]), name)

    def test_metrics_come_back_to_python_with_nan_and_infinities(self) -> None:
        import cairn

        experiment = cairn.Project(directory=self.project).experiments.get(self.experiment_id)
        latest = experiment.latest()
        self.assertTrue(math.isnan(latest.metrics["loss"]))
        self.assertEqual(latest.metrics["mae"], math.inf)
        self.assertEqual(latest.metrics["epoch_fraction"], -math.inf)
        self.assertEqual(experiment.best().step, 4)
        self.assertEqual([c.step for c in experiment.checkpoints], [0, 1, 2, 3, 4, 5])
        self.assertEqual(experiment.primary_metric, ("loss", "minimize"))


class ExampleTest(ProjectTestCase):
    def test_the_examples_run(self) -> None:
        import shutil

        from helpers import ROOT

        project = make_project()
        for name in ("model.py", "train.py", "infer.py"):
            shutil.copy(ROOT / "examples" / "python" / name, project / name)
        trained = run_python(project, ["train.py", "--epochs", "3"])
        self.assertEqual(trained.code, 0, trained)
        self.assertIn("best checkpoint", trained.stdout)
        inferred = run_python(project, ["infer.py"])
        self.assertEqual(inferred.code, 0, inferred)
        self.assertIn("accuracy on fresh data", inferred.stdout)
        (experiment,) = cli_json(project, "ls")
        self.assertEqual(experiment["params"], {"lr": 0.05, "epochs": 3, "hidden": 32, "seed": 0})
        self.assertEqual(experiment["checkpointCount"], 3)
