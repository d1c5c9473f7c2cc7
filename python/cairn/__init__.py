"""Cairn: version control for machine learning, from Python.

Record a training run::

    import cairn
    experiment = cairn.init(path=".", params={"lr": 0.01, "epochs": 5})
    for epoch in range(5):
        ...
        torch.save(model.state_dict(), "model.pth")
        experiment.checkpoint(path="model.pth", step=epoch, metrics={"loss": loss}, primary_metric=("loss", "minimize"))
    experiment.stop()

and get the model back::

    checkpoint = cairn.experiments.get("e510303").best()
    model.load_state_dict(torch.load(checkpoint.open("model.pth")))

This package drives Cairn's core (the ``cairn`` command, Node.js) through one child process;
see ``CAIRN_CORE`` in README.md for how it is found.
"""

from __future__ import annotations

import os
from typing import Any, Optional, Union

from .checkpoint import Checkpoint, CheckoutResult, FileInfo, PrimaryMetric
from .errors import (
    AmbiguousIdError,
    CairnError,
    ConfigError,
    ConflictError,
    CoreError,
    CoreNotFoundError,
    CorruptError,
    FormatTooNewError,
    InvalidArgumentError,
    InvalidFilterError,
    NotFoundError,
    PlotUnavailableError,
    StorageError,
    UnsafePathError,
    UnsupportedUrlError,
)
from .experiment import Experiment, ExperimentList
from .project import Project, _Checkpoints, _Experiments, default_project

__version__ = "0.1.0"

__all__ = [
    "init",
    "experiments",
    "checkpoints",
    "Project",
    "Experiment",
    "ExperimentList",
    "Checkpoint",
    "CheckoutResult",
    "FileInfo",
    "PrimaryMetric",
    "CairnError",
    "InvalidArgumentError",
    "InvalidFilterError",
    "NotFoundError",
    "AmbiguousIdError",
    "ConflictError",
    "UnsafePathError",
    "CorruptError",
    "StorageError",
    "ConfigError",
    "UnsupportedUrlError",
    "FormatTooNewError",
    "CoreNotFoundError",
    "CoreError",
    "PlotUnavailableError",
]


def init(path: Optional[Union[str, "os.PathLike[str]"]] = None, params: Any = None) -> Experiment:
    """
    Starts recording an experiment in the repository of the working directory (cairn.yaml,
    ``CAIRN_REPOSITORY`` or ``.cairn/``) and returns it; see ``Project.init``.

    Example::

        experiment = cairn.init(path=".", params={"lr": 0.01})
    """
    return default_project().init(path=path, params=params)


class _DefaultExperiments:
    """``cairn.experiments.list()`` and ``.get()`` on the working directory's repository."""

    def list(self, filter: Any = None, sort: Optional[str] = None) -> ExperimentList:
        return default_project().experiments.list(filter=filter, sort=sort)

    def get(self, id: str) -> Experiment:
        return default_project().experiments.get(id)

    list.__doc__ = _Experiments.list.__doc__
    get.__doc__ = _Experiments.get.__doc__

    def __repr__(self) -> str:
        return "<cairn.experiments: list(filter=, sort=), get(id)>"


class _DefaultCheckpoints:
    """``cairn.checkpoints.get()`` on the working directory's repository."""

    def get(self, id: str) -> Checkpoint:
        return default_project().checkpoints.get(id)

    get.__doc__ = _Checkpoints.get.__doc__

    def __repr__(self) -> str:
        return "<cairn.checkpoints: get(id)>"


experiments = _DefaultExperiments()
checkpoints = _DefaultCheckpoints()
