"""experiment.plot() and experiments.list().plot() with matplotlib, and a clear message without."""

from __future__ import annotations

import math
import sys
from unittest import mock

from helpers import ProjectTestCase, make_project

import cairn


class PlotTest(ProjectTestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.directory = make_project({"train.py": "pass\n"})
        cls.project = cairn.Project(directory=cls.directory)
        cls.experiments = []
        for offset in (0.0, 1.0):
            with cls.project.init(params={"offset": offset}) as experiment:
                for step, loss in enumerate([3.0, 2.0, math.nan, 1.0, math.inf]):
                    experiment.checkpoint(step=step * 10, metrics={"loss": loss + offset, "accuracy": step / 4}, primary_metric=("loss", "minimize"))
            cls.experiments.append(experiment)

    def test_one_experiment(self) -> None:
        import matplotlib.pyplot as pyplot

        experiment = self.project.experiments.get(self.experiments[0].id)
        ax = experiment.plot("loss")
        line = ax.get_lines()[0]
        self.assertEqual(list(line.get_xdata()), [0, 10, 20, 30, 40])
        ydata = list(line.get_ydata())
        self.assertEqual(ydata[:2], [3.0, 2.0])
        self.assertTrue(math.isnan(ydata[2]) and math.isnan(ydata[4]))
        self.assertEqual(ydata[3], 1.0)
        best = ax.get_lines()[1]
        self.assertEqual((list(best.get_xdata()), list(best.get_ydata())), ([30], [1.0]))
        self.assertEqual(ax.get_ylabel(), "loss")
        self.assertEqual(ax.get_title(), f"{experiment.short_id}: loss")
        pyplot.close("all")

    def test_a_list_plots_one_line_per_experiment_of_the_primary_metric(self) -> None:
        import matplotlib.pyplot as pyplot

        listing = self.project.experiments.list(sort="created:asc")
        ax = listing.plot()
        labels = [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")]
        self.assertEqual(labels, [e.short_id for e in self.experiments])
        self.assertEqual(ax.get_ylabel(), "loss")
        self.assertEqual(listing.plot("accuracy", logy=True).get_yscale(), "log")
        pyplot.close("all")

    def test_an_unknown_metric(self) -> None:
        with self.assertRaisesRegex(cairn.InvalidArgumentError, 'no checkpoint has the metric "los"; metrics recorded: loss, accuracy'):
            self.project.experiments.list().plot("los")

    def test_without_matplotlib(self) -> None:
        experiment = self.project.experiments.get(self.experiments[0].id)
        with mock.patch.dict(sys.modules, {"matplotlib": None, "matplotlib.pyplot": None}):
            with self.assertRaises(cairn.PlotUnavailableError) as caught:
                experiment.plot("loss")
        self.assertIsInstance(caught.exception, ImportError)
        self.assertIn("pip install matplotlib", str(caught.exception))
        self.assertIn("apt install python3-matplotlib", str(caught.exception))
