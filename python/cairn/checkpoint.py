"""A recorded checkpoint: its step, metrics and files."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, BinaryIO, Dict, List, NamedTuple, Optional

from . import _display, _files
from ._wire import parse_time
from .errors import InvalidArgumentError

if TYPE_CHECKING:
    from .experiment import Experiment
    from .project import Project


class PrimaryMetric(NamedTuple):
    """The metric best() ranks by; equal to the tuple ``("loss", "minimize")``."""

    name: str
    goal: str


class FileInfo(NamedTuple):
    """One stored file: its path in the checkpoint, size in bytes, SHA-256 and mode."""

    path: str
    size: int
    sha256: str
    mode: int


class CheckoutResult(NamedTuple):
    """What checkout() did: the folder, the paths written, and those already identical."""

    output_directory: str
    written: List[str]
    unchanged: List[str]


def primary_metric_of(value: Any) -> Optional[PrimaryMetric]:
    if isinstance(value, dict) and "name" in value and "goal" in value:
        return PrimaryMetric(str(value["name"]), str(value["goal"]))
    return None


def output_directory_of(value: Any) -> str:
    if isinstance(value, (str, os.PathLike)) and os.fspath(value) != "":
        return os.path.abspath(os.path.expanduser(os.fspath(value)))
    raise InvalidArgumentError(f'checkout() needs output_directory, the folder to write the files into, like output_directory="weights"; got {value!r}.')


class Checkpoint:
    """
    A checkpoint: ``id``, ``step``, ``created``, ``metrics`` (NaN and infinities kept),
    ``primary_metric``, ``path`` (what was given to checkpoint()), and its files through
    ``open()``, ``files()`` and ``checkout()``.

    Example::

        checkpoint = cairn.experiments.get("e510303").best()
        model.load_state_dict(torch.load(checkpoint.open("model.pth")))
    """

    def __init__(self, data: Dict[str, Any], project: "Project", experiment: Optional["Experiment"] = None) -> None:
        self._project = project
        self._experiment = experiment
        self.id: str = data["id"]
        self.experiment_id: str = data["experimentId"]
        self.step: int = data["step"]
        self.created = parse_time(data.get("created"))
        self.metrics: Dict[str, Any] = dict(data.get("metrics") or {})
        self.primary_metric = primary_metric_of(data.get("primaryMetric"))
        self.path: Optional[str] = data.get("path")
        self._file_count: Optional[int] = data.get("files")
        self._bytes: Optional[int] = data.get("bytes")

    @property
    def short_id(self) -> str:
        return self.id[:7]

    @property
    def experiment(self) -> "Experiment":
        """The experiment this checkpoint belongs to (read from the repository when needed)."""
        if self._experiment is None:
            self._experiment = self._project.experiments.get(self.experiment_id)
        return self._experiment

    def open(self, path: str) -> BinaryIO:
        """
        One stored file as a binary file object (seekable, readable, with ``fileno()``), e.g. for
        ``torch.load``. The core streams the file, verified against its SHA-256, into a file in
        Cairn's cache folder (``CAIRN_CACHE_DIR``, else ``~/.cache/cairn``) whose name is removed
        as soon as it is open: memory stays flat whatever the size, and the disk space is freed
        when the file object is closed. ``path`` is the stored path (``"model.pth"``) or a path
        inside the checkpoint's folder. Close it, or use ``with``.
        """
        if isinstance(path, os.PathLike):
            path = os.fspath(path)
        if not isinstance(path, str) or path == "":
            raise InvalidArgumentError(f'open() needs the path of a file in the checkpoint, like "model.pth"; got {path!r}.')
        handed = self._project._call("checkpoint.open", checkpoint=self.id, file=path)
        return _files.take(handed["path"])

    def files(self) -> List[FileInfo]:
        """The stored files: path, size, SHA-256 and mode of each."""
        return [FileInfo(f["path"], f["size"], f["sha256"], f["mode"]) for f in self._project._call("checkpoint.files", checkpoint=self.id)]

    def checkout(self, output_directory: Any, path: Optional[str] = None, force: bool = False) -> CheckoutResult:
        """
        Writes this checkpoint's files into ``output_directory`` (only those under ``path`` when
        given). Refuses to overwrite files with other contents, listing them, unless ``force``.
        """
        result = self._project._call(
            "checkpoint.checkout", checkpoint=self.id, outputDirectory=output_directory_of(output_directory), path=path, force=bool(force)
        )
        return CheckoutResult(result["outputDirectory"], list(result["written"]), list(result["unchanged"]))

    @property
    def size(self) -> Optional[int]:
        """Total bytes of the stored files (None for one just recorded by this process)."""
        return self._bytes

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Checkpoint) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        parts = [f"id={self.short_id!r}", f"experiment={self.experiment_id[:7]!r}", f"step={self.step}"]
        parts.append("metrics={" + ", ".join(f"{name!r}: {_display.number(value)}" for name, value in self.metrics.items()) + "}")
        if self.primary_metric:
            parts.append(f"primary_metric=({self.primary_metric.name!r}, {self.primary_metric.goal!r})")
        if self.path is not None:
            parts.append(f"path={self.path!r}")
        return f"Checkpoint({', '.join(parts)})"

    def _repr_html_(self) -> str:
        rows = [
            ("id", self.id),
            ("experiment", self.experiment_id),
            ("step", self.step),
            ("created", _display.when(self.created)),
            ("path", self.path if self.path is not None else "(metrics only)"),
            ("primary metric", f"{self.primary_metric.name} ({self.primary_metric.goal})" if self.primary_metric else "-"),
        ]
        rows += [(f"metrics.{name}", _display.number(value)) for name, value in self.metrics.items()]
        if self._bytes is not None:
            rows.append(("files", f"{self._file_count} ({self._bytes} bytes)"))
        return _display.table(("", ""), rows, caption=f"Checkpoint {self.short_id}")
