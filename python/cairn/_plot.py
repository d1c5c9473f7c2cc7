"""Metric plots for notebooks, with matplotlib when it is installed."""

from __future__ import annotations

import math
from typing import Any, List, Optional

from .errors import InvalidArgumentError, PlotUnavailableError


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as pyplot
    except ImportError:
        raise PlotUnavailableError(
            "plot() draws with matplotlib, which is not installed: `pip install matplotlib` "
            "(on Debian or Ubuntu: `apt install python3-matplotlib`). The values are in experiment.checkpoints[i].metrics."
        ) from None
    return pyplot


def _choose_metric(experiments: List[Any], metric: Optional[str]) -> str:
    names: List[str] = []
    for experiment in experiments:
        for checkpoint in experiment.checkpoints:
            for name in checkpoint.metrics:
                if name not in names:
                    names.append(name)
    if metric is not None:
        if not isinstance(metric, str):
            raise InvalidArgumentError(f'plot() takes a metric name such as "loss"; got {metric!r}.')
        if metric not in names:
            raise InvalidArgumentError(f'no checkpoint has the metric "{metric}"; metrics recorded: {", ".join(names) if names else "none"}.')
        return metric
    primaries = {e.primary_metric.name for e in experiments if e.primary_metric is not None}
    if len(primaries) == 1:
        return primaries.pop()
    if len(names) == 1:
        return names[0]
    raise InvalidArgumentError(f'say which metric to plot, e.g. plot("loss"); metrics recorded: {", ".join(names) if names else "none"}.')


def plot_experiments(experiments: List[Any], metric: Optional[str], *, logy: bool = False, ax: Any = None) -> Any:
    """One line per experiment of ``metric`` over the steps; the best checkpoint is marked."""
    name = _choose_metric(experiments, metric)
    pyplot = _pyplot()
    if ax is None:
        _, ax = pyplot.subplots()
    for experiment in experiments:
        points = [(c.step, c.metrics[name]) for c in experiment.checkpoints if name in c.metrics]
        if not points:
            continue
        # NaN and infinities are recorded faithfully but cannot be drawn: they leave gaps.
        steps = [step for step, _ in points]
        values = [value if isinstance(value, (int, float)) and math.isfinite(value) else math.nan for _, value in points]
        (line,) = ax.plot(steps, values, marker="." if len(points) < 50 else None, label=experiment.short_id)
        best = experiment.best() if experiment.primary_metric is not None and experiment.primary_metric.name == name else None
        if best is not None and name in best.metrics:
            ax.plot([best.step], [best.metrics[name]], marker="*", markersize=12, color=line.get_color(), linestyle="none")
    ax.set_xlabel("step")
    ax.set_ylabel(name)
    if logy:
        ax.set_yscale("log")
    if len(experiments) == 1:
        ax.set_title(f"{experiments[0].short_id}: {name}")
    else:
        ax.legend(title="experiment")
    return ax
