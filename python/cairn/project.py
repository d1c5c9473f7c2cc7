"""A project and its repository: where experiments are recorded and read back."""

from __future__ import annotations

import os
import re
from typing import Any, List, Optional, Sequence, Union

from . import _environment, _lifecycle
from ._core import get_core
from ._wire import to_json
from .checkpoint import Checkpoint
from .errors import InvalidArgumentError
from .experiment import Experiment, ExperimentList

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class _Experiments:
    def __init__(self, project: "Project") -> None:
        self._project = project

    def list(self, filter: Union[str, Sequence[str], None] = None, sort: Optional[str] = None) -> ExperimentList:
        """
        Experiments, newest first; ``filter`` and ``sort`` use the language of ``cairn ls``:
        ``filter="params.lr < 0.01 and status = stopped"`` (or a list, all must match),
        ``sort="metrics.loss"`` or ``"created:asc"``.
        """
        if filter is not None and not isinstance(filter, str):
            filter = list(filter) if isinstance(filter, (list, tuple)) else filter
        result = self._project._call("experiments.list", filter=to_json(filter, "filter", arrays=False), sort=to_json(sort, "sort", arrays=False))
        return ExperimentList([Experiment(data, self._project) for data in result["experiments"]], result.get("problems"))

    def get(self, id: str) -> Experiment:
        """An experiment by ID or unique prefix, like ``"e510303"``."""
        return Experiment(self._project._call("experiments.get", id=to_json(id, "id", arrays=False)), self._project)

    def __repr__(self) -> str:
        return f"<experiments of {self._project!r}>"


class _Checkpoints:
    def __init__(self, project: "Project") -> None:
        self._project = project

    def get(self, id: str) -> Checkpoint:
        """A checkpoint by its own ID or a unique prefix, like ``"3ccb2f1"``."""
        return Checkpoint(self._project._call("checkpoints.get", id=to_json(id, "id", arrays=False)), self._project)

    def __repr__(self) -> str:
        return f"<checkpoints of {self._project!r}>"


class Project:
    """
    A project directory and its repository. ``repository`` is a folder or URL (default: the
    ``CAIRN_REPOSITORY`` variable, else ``repository:`` in the nearest cairn.yaml, else
    ``.cairn/``); ``directory`` is where cairn.yaml or .cairn/ is looked for and what checkpoint
    paths are relative to (default: the working directory at each call).

    Example::

        project = cairn.Project(repository="/data/cairn")
        for experiment in project.experiments.list(sort="metrics.loss"):
            print(experiment.id, experiment.best())
    """

    def __init__(self, repository: Optional[Union[str, "os.PathLike[str]"]] = None, directory: Optional[Union[str, "os.PathLike[str]"]] = None) -> None:
        for name, value in (("repository", repository), ("directory", directory)):
            if value is not None and not isinstance(value, (str, os.PathLike)):
                raise InvalidArgumentError(f"Project({name}=...) must be a path or URL string; got {value!r}.")
        self._repository = os.fspath(repository) if repository is not None else None
        self._directory = os.path.abspath(os.fspath(directory)) if directory is not None else None
        self.experiments = _Experiments(self)
        self.checkpoints = _Checkpoints(self)

    def _spec(self) -> dict:
        directory = self._directory or os.getcwd()
        repository = self._repository if self._repository is not None else (os.environ.get("CAIRN_REPOSITORY") or None)
        if repository is not None and not _URL.match(repository):
            repository = os.path.abspath(os.path.expanduser(repository))
        return {"directory": directory, "repository": repository}

    def _call(self, method: str, **params: Any) -> Any:
        return get_core().call(method, {"project": self._spec(), **params})

    def init(self, path: Optional[Union[str, "os.PathLike[str]"]] = None, params: Any = None) -> Experiment:
        """
        Starts recording an experiment: ``params`` (any JSON: numbers, strings, lists, dicts;
        numpy scalars are converted), a snapshot of the code under ``path`` (relative to the
        project directory; "." by default), the environment, the git state, the Python version
        and the versions of the packages imported so far. Returns the running experiment.
        """
        if path is not None and not isinstance(path, (str, os.PathLike)):
            raise InvalidArgumentError(f'init() path must be the folder of your training code, like path="."; got {path!r}.')
        core = get_core()
        data = core.call(
            "init",
            {
                "project": self._spec(),
                "path": os.fspath(path) if path is not None else None,
                "params": to_json(params, "params"),
                "runtimes": _environment.runtimes(),
                "dependencies": _environment.imported_packages(),
                "command": _environment.command(),
                "workingDirectory": os.getcwd(),
            },
        )
        experiment = Experiment(data, self, core=core)
        _lifecycle.started(experiment)
        return experiment

    def __repr__(self) -> str:
        spec = self._spec()
        return f"Project(repository={spec['repository'] or '(from cairn.yaml or .cairn/)'!r}, directory={spec['directory']!r})"


_default: List[Project] = []


def default_project() -> Project:
    """The project of the working directory, as the module-level functions use it."""
    if not _default:
        _default.append(Project())
    return _default[0]
