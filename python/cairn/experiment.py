"""Experiments: the one a training script runs (from ``cairn.init()``), and those read back."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from . import _display, _lifecycle
from ._wire import metrics_to_json, parse_time, to_json
from .checkpoint import Checkpoint, CheckoutResult, output_directory_of, primary_metric_of
from .errors import CoreError, InvalidArgumentError, StorageError

if TYPE_CHECKING:
    from ._core import Core
    from .project import Project


def _write_warning(text: str) -> None:
    from ._core import _write_stderr

    _write_stderr(text)


class Experiment:
    """
    An experiment: ``id``, ``created``, ``status`` ("running", "stopped" or "crashed"),
    ``params``, ``checkpoints``, ``best()``, ``latest()``; and, read back from the repository,
    ``environment``, ``git``, ``dependencies`` and ``path``. The one ``cairn.init()`` returns also
    records: ``checkpoint()`` and ``stop()``.

    Example::

        experiment = cairn.init(path=".", params={"lr": 0.01})
        experiment.checkpoint(path="model.pth", step=1, metrics={"loss": 0.2}, primary_metric=("loss", "minimize"))
        experiment.stop()
    """

    def __init__(self, data: Dict[str, Any], project: "Project", core: Optional["Core"] = None) -> None:
        self._project = project
        # Set only for the experiment this process runs: the core process that records it.
        self._core = core
        self._core_lost = False
        self._update(data)

    def _update(self, data: Dict[str, Any]) -> None:
        self.id: str = data["id"]
        self.created = parse_time(data.get("created"))
        self._status: str = data.get("status", "running")
        self.stopped = parse_time(data.get("stopped"))
        self.params: Any = data.get("params")
        self.path: Optional[str] = data.get("path")
        self.environment: Optional[Dict[str, Any]] = data.get("environment")
        self.git: Optional[Dict[str, Any]] = data.get("git")
        self.dependencies: Optional[Dict[str, Any]] = data.get("dependencies")
        self.primary_metric = primary_metric_of(data.get("primaryMetric"))
        listed = data.get("checkpoints")
        # None for an experiment from a listing (read from its summary): fetched when first asked for.
        self._checkpoints: Optional[List[Checkpoint]] = None if listed is None else [Checkpoint(c, self._project, self) for c in listed]
        self._checkpoint_count: int = data.get("checkpointCount", len(listed or []))
        self._best: Optional[str] = data.get("best")
        self._latest: Optional[str] = data.get("latest")
        # Best and latest come with every experiment, so best() and latest() never read everything.
        self._ends: Dict[str, Checkpoint] = {}
        for end in (data.get("bestCheckpoint"), data.get("latestCheckpoint")):
            if isinstance(end, dict) and end.get("id") not in self._ends:
                self._ends[end["id"]] = Checkpoint(end, self._project, self)

    @property
    def checkpoints(self) -> List[Checkpoint]:
        """Every checkpoint, oldest first (read from the repository on first use for a listed experiment)."""
        if self._checkpoints is None:
            fresh = self._project._call("experiments.get", id=self.id)
            ends = self._ends
            self._checkpoints = [ends.get(c["id"]) or Checkpoint(c, self._project, self) for c in fresh.get("checkpoints") or []]
            self._checkpoint_count = len(self._checkpoints)
        return self._checkpoints

    @checkpoints.setter
    def checkpoints(self, value: List[Checkpoint]) -> None:
        self._checkpoints = value
        self._checkpoint_count = len(value)

    @property
    def checkpoint_count(self) -> int:
        """How many checkpoints the experiment has, without reading them all."""
        return self._checkpoint_count if self._checkpoints is None else len(self._checkpoints)

    @property
    def short_id(self) -> str:
        return self.id[:7]

    @property
    def status(self) -> str:
        return self._status

    # -- reading ---------------------------------------------------------------------------

    def best(self) -> Optional[Checkpoint]:
        """The best checkpoint by the primary metric (NaN and infinities skipped), or None."""
        self._sync()
        return self._by_id(self._best)

    def latest(self) -> Optional[Checkpoint]:
        """The most recent checkpoint, or None."""
        self._sync()
        return self._by_id(self._latest)

    def _sync(self) -> None:
        # For the experiment this process runs, the core ranks (the binding never re-implements
        # best()), and knows of a checkpoint whose call a Ctrl-C interrupted.
        if self._core is not None and self._status == "running" and not self._core_lost:
            try:
                self._merge(self._core.call("run.get", {"run": self.id}))
            except CoreError as error:
                self._lose_core(error)

    def _by_id(self, checkpoint_id: Optional[str]) -> Optional[Checkpoint]:
        if checkpoint_id is None:
            return None
        if self._checkpoints is None:
            return self._ends.get(checkpoint_id)
        for checkpoint in self._checkpoints:
            if checkpoint.id == checkpoint_id:
                return checkpoint
        return None

    def _merge(self, data: Dict[str, Any]) -> None:
        known = {c.id: c for c in self._checkpoints or []}
        self._status = data.get("status", self._status)
        self.primary_metric = primary_metric_of(data.get("primaryMetric"))
        self._best = data.get("best")
        self._latest = data.get("latest")
        self.checkpoints = [known.get(c["id"]) or Checkpoint(c, self._project, self) for c in data.get("checkpoints") or []]

    def refresh(self) -> "Experiment":
        """Reads this experiment again from the repository (status, checkpoints, environment…)."""
        fresh = self._project._call("experiments.get", id=self.id)
        running = self._core is not None and self._status == "running"
        self._update(fresh)
        if running:
            # The repository may lag behind this process by a moment; what it runs is running.
            self._status = "running"
        return self

    def checkout(self, output_directory: Any, path: Optional[str] = None, force: bool = False) -> CheckoutResult:
        """Writes the code snapshot and the best checkpoint's files (else the latest's) into a folder."""
        result = self._project._call(
            "experiment.checkout", experiment=self.id, outputDirectory=output_directory_of(output_directory), path=path, force=bool(force)
        )
        return CheckoutResult(result["outputDirectory"], list(result["written"]), list(result["unchanged"]))

    def plot(self, metric: Optional[str] = None, *, logy: bool = False, ax: Any = None) -> Any:
        """Plots ``metric`` (the primary metric by default) over the steps; returns the matplotlib Axes."""
        from ._plot import plot_experiments

        return plot_experiments([self], metric, logy=logy, ax=ax)

    # -- recording -------------------------------------------------------------------------

    def checkpoint(
        self,
        path: Optional[Any] = None,
        step: Optional[int] = None,
        metrics: Optional[Dict[str, Any]] = None,
        primary_metric: Optional[Any] = None,
    ) -> Optional[Checkpoint]:
        """
        Records a checkpoint: the file or folder ``path`` (relative to the project directory;
        copied before this returns, so the script may overwrite it at once), ``metrics``
        (numbers, numpy scalars or 0-d tensors; NaN and infinities kept) and
        ``primary_metric=("loss", "minimize")``. Publishing happens in the background: storage
        trouble is retried and reported on stderr, never raised here. Wrong arguments raise
        ``InvalidArgumentError`` (a ``ValueError`` and ``TypeError``).
        """
        core = self._recording_core("checkpoint")
        if isinstance(path, os.PathLike):
            path = os.fspath(path)
        params = {
            "run": self.id,
            "path": to_json(path, "path", arrays=False),
            "step": to_json(step, "step", arrays=False),
            "metrics": metrics_to_json(metrics),
            "primaryMetric": to_json(primary_metric, "primary_metric", arrays=False),
        }
        if self._core_lost:
            return None
        try:
            data = core.call("run.checkpoint", params)
        except StorageError as error:
            _write_warning(f"cairn: could not record a checkpoint of {self.short_id}: {error}\n")
            return None
        except CoreError as error:
            self._lose_core(error)
            return None
        checkpoint = Checkpoint(data, self._project, self)
        self.checkpoints.append(checkpoint)
        self._latest = checkpoint.id
        if checkpoint.primary_metric is not None:
            self.primary_metric = checkpoint.primary_metric
        return checkpoint

    def stop(self) -> None:
        """Marks the experiment stopped and waits until everything is published. Safe to call twice."""
        core = self._recording_core("stop")
        if self._status != "running":
            return
        try:
            if not self._core_lost:
                self._merge(core.call("run.stop", {"run": self.id}))
        except CoreError as error:
            self._lose_core(error)
        finally:
            self._status = "stopped"
            _lifecycle.stopped(self)

    def _lose_core(self, error: CoreError) -> None:
        # The core process is gone (killed, out of memory): training must go on regardless.
        # What it had captured is on local disk and published by the next Cairn process.
        if not self._core_lost:
            self._core_lost = True
            _write_warning(
                f"cairn: {error} Checkpoints of experiment {self.short_id} are no longer recorded; "
                'those captured so far are kept on local disk ("cairn push" publishes them).\n'
            )

    def _recording_core(self, what: str) -> "Core":
        if self._core is None:
            raise InvalidArgumentError(
                f"experiment {self.short_id} was read from the repository; only the script that started it with cairn.init() can call {what}()."
            )
        return self._core

    def __enter__(self) -> "Experiment":
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._core is not None and self._status == "running":
            self.stop()

    # -- display ---------------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Experiment) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def _best_summary(self) -> str:
        best = self._by_id(self._best)
        if best is None:
            return "-"
        primary = self.primary_metric
        value = best.metrics.get(primary.name) if primary else None
        return f"step {best.step}" + (f", {primary.name}={_display.number(value)}" if primary else "")

    def __repr__(self) -> str:
        return (
            f"Experiment(id={self.short_id!r}, status={self._status!r}, created={_display.when(self.created)!r}, "
            f"params={self.params!r}, checkpoints={self.checkpoint_count}, best={self._best_summary()!r})"
        )

    def _repr_html_(self) -> str:
        header = _display.table(
            ("", ""),
            [
                ("id", self.id),
                ("status", self._status),
                ("created", _display.when(self.created)),
                ("params", _display.params(self.params, limit=400)),
                ("best", self._best_summary()),
            ],
            caption=f"Experiment {self.short_id}",
        )
        names: List[str] = []
        for checkpoint in self.checkpoints:
            for name in checkpoint.metrics:
                if name not in names:
                    names.append(name)
        rows = [
            [c.short_id, c.step, _display.when(c.created), c.path or "", *(_display.number(c.metrics[n]) if n in c.metrics else "" for n in names), "★" if c.id == self._best else ""]
            for c in self.checkpoints
        ]
        return header + _display.table(["checkpoint", "step", "created", "path", *names, "best"], rows)


class ExperimentList(list):
    """A list of experiments, with ``plot()`` and a table for notebooks. ``problems`` lists records that could not be read."""

    def __init__(self, experiments: List[Experiment] = (), problems: Optional[List[Dict[str, Any]]] = None) -> None:  # type: ignore[assignment]
        super().__init__(experiments)
        self.problems: List[Dict[str, Any]] = list(problems or [])

    def plot(self, metric: Optional[str] = None, *, logy: bool = False, ax: Any = None) -> Any:
        """One line per experiment of ``metric`` (the primary metric by default) over the steps."""
        from ._plot import plot_experiments

        return plot_experiments(list(self), metric, logy=logy, ax=ax)

    def __repr__(self) -> str:
        if not self:
            return "ExperimentList([])"
        return "ExperimentList([\n" + "".join(f"  {experiment!r},\n" for experiment in self) + "])"

    def _repr_html_(self) -> str:
        rows = [
            (e.short_id, _display.when(e.created), e.status, _display.params(e.params), e.checkpoint_count, e._best_summary())
            for e in self
        ]
        caption = f"{len(self)} experiment{'s' if len(self) != 1 else ''}"
        if self.problems:
            caption += f" ({len(self.problems)} unreadable record{'s' if len(self.problems) != 1 else ''} skipped)"
        return _display.table(("id", "created", "status", "params", "checkpoints", "best"), rows, caption=caption)
