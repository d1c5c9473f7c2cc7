"""The API in this process: wrong arguments raise with the core's message, reads, checkouts, files."""

from __future__ import annotations

import hashlib
import io
import math
import os
from pathlib import Path

from helpers import ProjectTestCase, cli_json, make_project

import cairn


def recorded_project(files=None):
    """A project with one stopped experiment: three checkpoints of model.bin, best at step 1."""
    project = make_project(files or {"train.py": "print('training')\n"})
    experiment = cairn.Project(directory=project).init(path=".", params={"lr": 0.01, "layers": [8, 8]})
    for step, loss in enumerate([0.5, 0.2, 0.3]):
        (project / "model.bin").write_bytes(f"weights at step {step}".encode())
        experiment.checkpoint(path="model.bin", step=step, metrics={"loss": loss}, primary_metric=("loss", "minimize"))
    experiment.stop()
    return project, experiment


class ArgumentsTest(ProjectTestCase):
    def setUp(self) -> None:
        self.directory = make_project({"train.py": "pass\n"})
        self.project = cairn.Project(directory=self.directory)
        self.experiment = self.project.init(params={"lr": 0.1})
        self.addCleanup(self.experiment.stop)

    def assertRaisesCore(self, exception, fragment):
        return self.assertRaisesRegex(exception, fragment)

    def test_params_that_json_cannot_hold(self) -> None:
        with self.assertRaisesRegex(TypeError, r"params\.optimizer is an object, which JSON cannot hold"):
            self.project.init(params={"optimizer": object()})
        # NaN reaches the core, whose message names the place.
        with self.assertRaisesRegex(ValueError, r"params\.lr is NaN, which JSON cannot hold"):
            self.project.init(params={"lr": math.nan})
        with self.assertRaisesRegex(cairn.InvalidArgumentError, "keys must be strings"):
            self.project.init(params={1: "one"})

    def test_wrong_metrics_raise_the_cores_message(self) -> None:
        with self.assertRaisesRegex(TypeError, r'metric "loss" is the string "high"; metrics must be numbers'):
            self.experiment.checkpoint(metrics={"loss": "high"})
        with self.assertRaisesRegex(ValueError, "metrics must be an object of numbers"):
            self.experiment.checkpoint(metrics=[1, 2])
        with self.assertRaisesRegex(cairn.InvalidArgumentError, r'metric "loss" is an object; metrics must be single numbers'):
            self.experiment.checkpoint(metrics={"loss": object()})

    def test_wrong_primary_metric_step_and_path(self) -> None:
        with self.assertRaisesRegex(ValueError, r'primaryMetric\'s goal must be "minimize" or "maximize"; got the string "sideways"'):
            self.experiment.checkpoint(metrics={"loss": 1}, primary_metric=("loss", "sideways"))
        with self.assertRaisesRegex(ValueError, r'primaryMetric "accuracy" is not among this checkpoint\'s metrics \(loss\)'):
            self.experiment.checkpoint(metrics={"loss": 1}, primary_metric=("accuracy", "maximize"))
        with self.assertRaisesRegex(ValueError, "step must be a non-negative integer"):
            self.experiment.checkpoint(step=-1)
        with self.assertRaisesRegex(ValueError, r'checkpoint path "missing.pth" does not exist'):
            self.experiment.checkpoint(path="missing.pth")
        # None of those was recorded.
        self.assertEqual(self.experiment.checkpoints, [])

    def test_a_stopped_experiment_records_nothing_more(self) -> None:
        self.experiment.checkpoint(metrics={"loss": 1.0})
        self.experiment.stop()
        self.experiment.stop()  # twice is fine
        with self.assertRaisesRegex(cairn.InvalidArgumentError, "is stopped; start a new one with cairn.init()"):
            self.experiment.checkpoint(metrics={"loss": 0.5})

    def test_an_experiment_read_back_cannot_record(self) -> None:
        self.experiment.checkpoint(metrics={"loss": 1.0})
        read = self.project.experiments.get(self.experiment.id)
        with self.assertRaisesRegex(cairn.InvalidArgumentError, "only the script that started it"):
            read.checkpoint(metrics={"loss": 0.5})

    def test_ids_that_name_nothing_or_too_much(self) -> None:
        with self.assertRaisesRegex(ValueError, '"zz" is not an ID'):
            self.project.experiments.get("zz")
        with self.assertRaises(cairn.NotFoundError) as caught:
            self.project.experiments.get("0123456789abcdef")
        self.assertIsInstance(caught.exception, LookupError)
        with self.assertRaises(cairn.InvalidArgumentError):
            self.project.experiments.get(None)

    def test_filters_use_the_cli_language_and_bad_ones_raise(self) -> None:
        with self.assertRaises(cairn.InvalidFilterError) as caught:
            self.project.experiments.list(filter="params.lr <")
        self.assertIn('expected a value after "<"', str(caught.exception))
        self.assertIsInstance(caught.exception, ValueError)
        with self.assertRaisesRegex(cairn.InvalidFilterError, "unknown field"):
            self.project.experiments.list(filter="params.learning_rate < 1")


class ReadingTest(ProjectTestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.directory, cls.recorded = recorded_project()
        cls.project = cairn.Project(directory=cls.directory)

    def test_best_latest_and_checkpoints(self) -> None:
        experiment = self.project.experiments.get(self.recorded.id[:7])
        self.assertEqual(experiment.id, self.recorded.id)
        self.assertEqual(experiment.status, "stopped")
        self.assertEqual(experiment.params, {"lr": 0.01, "layers": [8, 8]})
        self.assertEqual([c.step for c in experiment.checkpoints], [0, 1, 2])
        self.assertEqual(experiment.best().step, 1)
        self.assertEqual(experiment.latest().step, 2)
        self.assertEqual(experiment.best().primary_metric, ("loss", "minimize"))
        self.assertEqual(experiment.best().metrics, {"loss": 0.2})
        self.assertEqual(experiment.best().size, len(b"weights at step 1"))
        self.assertEqual(experiment.best().experiment, experiment)
        # The running experiment's own view agrees.
        self.assertEqual(self.recorded.best().id, experiment.best().id)
        self.assertEqual(self.recorded.status, "stopped")

    def test_open_returns_a_real_seekable_file_and_leaves_no_copy_behind(self) -> None:
        checkpoint = self.project.experiments.get(self.recorded.id).best()
        with checkpoint.open("model.bin") as handle:
            self.assertIsInstance(handle, io.BufferedReader)
            self.assertTrue(handle.seekable())
            handle.fileno()
            self.assertEqual(handle.read(), b"weights at step 1")
            handle.seek(8)
            self.assertEqual(handle.read(2), b"at")
            # The name is gone already; the open file stays readable until closed.
            self.assertFalse(os.path.exists(handle.name))
        leftovers = [name for name in os.listdir(Path(os.environ["CAIRN_CACHE_DIR"]) / "open")]
        self.assertEqual(leftovers, [])

    def test_opening_a_missing_file_names_the_ones_there(self) -> None:
        checkpoint = self.project.experiments.get(self.recorded.id).best()
        with self.assertRaisesRegex(cairn.NotFoundError, r'has no file "weights.pth"\. It has: model.bin'):
            checkpoint.open("weights.pth")
        with self.assertRaises(cairn.InvalidArgumentError):
            checkpoint.open("")

    def test_a_corrupt_object_is_refused_and_nothing_is_handed_over(self) -> None:
        directory, recorded = recorded_project()
        project = cairn.Project(directory=directory)
        checkpoint = project.experiments.get(recorded.id).latest()
        sha = checkpoint.files()[0].sha256
        obj = directory / ".cairn" / "objects" / sha[:2] / sha
        os.chmod(obj, 0o644)
        obj.write_bytes(b"weights at step X")
        with self.assertRaisesRegex(cairn.CorruptError, "is corrupt"):
            checkpoint.open("model.bin")
        self.assertEqual(os.listdir(Path(os.environ["CAIRN_CACHE_DIR"]) / "open"), [])

    def test_files_and_checkout(self) -> None:
        checkpoint = self.project.experiments.get(self.recorded.id).checkpoints[0]
        (entry,) = checkpoint.files()
        self.assertEqual(entry.path, "model.bin")
        self.assertEqual(entry.sha256, hashlib.sha256(b"weights at step 0").hexdigest())
        out = make_project()
        result = checkpoint.checkout(output_directory=out)
        self.assertEqual(result.written, ["model.bin"])
        self.assertEqual((out / "model.bin").read_bytes(), b"weights at step 0")
        again = checkpoint.checkout(output_directory=str(out))
        self.assertEqual(again.unchanged, ["model.bin"])
        (out / "model.bin").write_bytes(b"edited")
        with self.assertRaises(cairn.ConflictError) as caught:
            self.project.experiments.get(self.recorded.id).best().checkout(output_directory=out)
        self.assertEqual(caught.exception.details["conflicts"], ["model.bin"])
        forced = self.project.experiments.get(self.recorded.id).best().checkout(output_directory=out, force=True)
        self.assertEqual(forced.written, ["model.bin"])
        with self.assertRaisesRegex(cairn.InvalidArgumentError, "needs output_directory"):
            checkpoint.checkout(output_directory="")

    def test_experiment_checkout_writes_code_and_best_checkpoint(self) -> None:
        out = make_project()
        result = self.project.experiments.get(self.recorded.id).checkout(output_directory=out)
        self.assertEqual(sorted(result.written), ["model.bin", "train.py"])
        self.assertEqual((out / "model.bin").read_bytes(), b"weights at step 1")

    def test_list_with_filter_and_sort_and_the_cli_agrees(self) -> None:
        directory = make_project({"train.py": "pass\n"})
        project = cairn.Project(directory=directory)
        ids = {}
        for lr, loss in ((0.1, 0.4), (0.01, 0.1), (0.001, 0.3)):
            experiment = project.init(params={"lr": lr})
            experiment.checkpoint(metrics={"loss": loss}, primary_metric=("loss", "minimize"))
            experiment.stop()
            ids[lr] = experiment.id
        listed = project.experiments.list(filter="params.lr < 0.05", sort="metrics.loss")
        self.assertEqual([e.id for e in listed], [ids[0.01], ids[0.001]])
        self.assertEqual(listed.problems, [])
        both = project.experiments.list(filter=["params.lr < 0.05", "metrics.loss > 0.2"])
        self.assertEqual([e.id for e in both], [ids[0.001]])
        from_cli = cli_json(directory, "ls", "--filter", "params.lr < 0.05", "--sort", "metrics.loss")
        self.assertEqual([e["id"] for e in from_cli], [e.id for e in listed])
        self.assertEqual(len(project.experiments.list()), 3)

    def test_a_listed_experiment_reads_its_checkpoints_only_when_asked(self) -> None:
        (listed,) = [e for e in self.project.experiments.list() if e.id == self.recorded.id]
        # best(), latest() and the count come with the listing, and their files open from there.
        self.assertEqual(listed.checkpoint_count, 3)
        self.assertEqual((listed.best().step, listed.best().metrics), (1, {"loss": 0.2}))
        self.assertEqual(listed.latest().step, 2)
        self.assertIs(listed.best(), listed.best())
        self.assertEqual(listed.best().experiment, listed)
        with listed.best().open("model.bin") as handle:
            self.assertEqual(handle.read(), b"weights at step 1")
        self.assertIn("checkpoints=3", repr(listed))
        # Every checkpoint, read on first use; best() is the same object as before.
        best = listed.best()
        self.assertEqual([c.step for c in listed.checkpoints], [0, 1, 2])
        self.assertIs(listed.checkpoints[1], best)
        self.assertEqual(listed.checkpoints[0].checkout(output_directory=make_project()).written, ["model.bin"])
        self.assertEqual(listed.checkpoint_count, 3)

    def test_a_listing_survives_a_removed_record(self) -> None:
        directory, recorded = recorded_project()
        project = cairn.Project(directory=directory)
        (listed,) = project.experiments.list()
        (directory / ".cairn" / "experiments" / f"{recorded.id}.json").unlink()
        self.assertEqual(listed.best().step, 1)
        with self.assertRaises(cairn.CairnError):
            listed.checkpoints

    def test_checkpoints_get_by_prefix(self) -> None:
        best = self.project.experiments.get(self.recorded.id).best()
        found = self.project.checkpoints.get(best.id[:8])
        self.assertEqual(found, best)
        self.assertEqual(found.step, 1)
        self.assertEqual(found.experiment_id, self.recorded.id)
        with self.assertRaises(cairn.NotFoundError):
            self.project.checkpoints.get(self.recorded.id)  # an experiment's ID is not a checkpoint's

    def test_an_explicit_repository(self) -> None:
        repository = make_project() / "elsewhere"
        directory = make_project({"train.py": "pass\n"})
        project = cairn.Project(repository=str(repository), directory=directory)
        experiment = project.init(params={"where": "elsewhere"})
        (directory / "w.bin").write_bytes(b"w")
        experiment.checkpoint(path="w.bin", metrics={"loss": 1})
        experiment.stop()
        self.assertTrue((repository / "cairn.json").is_file())
        self.assertFalse((directory / ".cairn").exists())
        self.assertEqual([e.id for e in project.experiments.list()], [experiment.id])
        self.assertEqual(cli_json(directory, "ls", "-R", str(repository))[0]["id"], experiment.id)
        self.assertIn(str(repository), repr(project))
        with project.experiments.get(experiment.id).latest().open("w.bin") as handle:
            self.assertEqual(handle.read(), b"w")
        self.assertEqual(cairn.Project(directory=directory).experiments.list(), [])

    def test_a_running_experiment_works_as_a_context_manager(self) -> None:
        directory = make_project({"train.py": "pass\n"})
        with cairn.Project(directory=directory).init(params={}) as experiment:
            experiment.checkpoint(metrics={"accuracy": 0.5}, primary_metric=("accuracy", "maximize"))
            experiment.checkpoint(metrics={"accuracy": 0.9}, primary_metric=("accuracy", "maximize"))
            experiment.checkpoint(metrics={"accuracy": 0.7}, primary_metric=("accuracy", "maximize"))
            self.assertEqual(experiment.best().step, 1)
            self.assertEqual(experiment.latest().step, 2)
            self.assertEqual(experiment.status, "running")
        self.assertEqual(experiment.status, "stopped")
        self.assertEqual(cli_json(directory, "ls")[0]["status"], "stopped")
        # refresh() reads the full record: what only the repository knows.
        self.assertIsNone(experiment.environment)
        self.assertEqual(experiment.refresh().environment["workingDirectory"], os.getcwd())
        self.assertEqual(len(experiment.checkpoints), 3)
        self.assertEqual(experiment.best().step, 1)


class ReprTest(ProjectTestCase):
    def test_reprs_and_notebook_tables(self) -> None:
        directory, recorded = recorded_project()
        experiment = cairn.Project(directory=directory).experiments.get(recorded.id)
        text = repr(experiment)
        self.assertTrue(text.startswith(f"Experiment(id='{recorded.id[:7]}', status='stopped'"), text)
        self.assertIn("params={'lr': 0.01, 'layers': [8, 8]}, checkpoints=3, best='step 1, loss=0.2'", text)
        self.assertEqual(
            repr(experiment.best()),
            f"Checkpoint(id='{experiment.best().id[:7]}', experiment='{recorded.id[:7]}', step=1, metrics={{'loss': 0.2}}, primary_metric=('loss', 'minimize'), path='model.bin')",
        )
        html = experiment._repr_html_()
        self.assertIn("<table>", html)
        self.assertIn(recorded.id, html)
        self.assertIn("★", html)
        listing = cairn.Project(directory=directory).experiments.list()
        self.assertIn("1 experiment", listing._repr_html_())
        self.assertTrue(repr(listing).startswith("ExperimentList([\n  Experiment("))
        self.assertIn("<td style='text-align:left'>metrics.loss</td><td style='text-align:left'>0.2</td>", experiment.best()._repr_html_())

    def test_html_is_escaped(self) -> None:
        directory = make_project({"train.py": "pass\n"})
        with cairn.Project(directory=directory).init(params={"name": "<script>alert(1)</script>"}) as experiment:
            experiment.checkpoint(metrics={"loss": math.nan})
        html = cairn.Project(directory=directory).experiments.list()._repr_html_()
        self.assertNotIn("<script>", html)
        self.assertIn("&lt;script&gt;", html)
        self.assertIn("NaN", cairn.Project(directory=directory).experiments.get(experiment.id)._repr_html_())
