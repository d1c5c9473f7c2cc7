"""Values on the wire: NaN and infinities both ways, numpy scalars and tensors as numbers,
and no import of numpy or torch by the binding itself."""

from __future__ import annotations

import math
from pathlib import PurePosixPath

from helpers import ProjectTestCase, cli_json, make_project, run_python

import numpy
import torch

from cairn import InvalidArgumentError
from cairn._wire import decode_line, encode_line, metrics_to_json, to_json


class WireTest(ProjectTestCase):
    def test_non_finite_numbers_are_tagged_both_ways(self) -> None:
        line = encode_line({"id": 1, "params": {"metrics": to_json({"a": math.nan, "b": [math.inf, -math.inf, 1.5]}, "metrics")}})
        self.assertEqual(line, b'{"id":1,"params":{"metrics":{"a":{"$number":"NaN"},"b":[{"$number":"Infinity"},{"$number":"-Infinity"},1.5]}}}\n')
        back = decode_line(b'{"x":{"$number":"NaN"},"y":[{"$number":"-Infinity"}],"z":{"$number":"other"}}')
        self.assertTrue(math.isnan(back["x"]))
        self.assertEqual(back["y"], [-math.inf])
        self.assertEqual(back["z"], {"$number": "other"})

    def test_params_convert_numpy_torch_tuples_and_paths(self) -> None:
        params = {
            "lr": numpy.float32(0.5),
            "epochs": numpy.int64(3),
            "layers": (64, 64),
            "mean": numpy.array([1.0, 2.0]),
            "scale": torch.tensor(2.0),
            "data": PurePosixPath("/data/set"),
            "nested": {"flag": numpy.bool_(True)},
        }
        self.assertEqual(
            to_json(params, "params"),
            {"lr": 0.5, "epochs": 3, "layers": [64, 64], "mean": [1.0, 2.0], "scale": 2.0, "data": "/data/set", "nested": {"flag": True}},
        )
        cycle: list = []
        cycle.append(cycle)
        with self.assertRaisesRegex(InvalidArgumentError, r"params\.x\[0\] is a circular reference"):
            to_json({"x": cycle}, "params")

    def test_metrics_take_scalars_and_refuse_tensors_of_several_elements(self) -> None:
        converted = metrics_to_json({"loss": torch.tensor(0.25), "acc": numpy.float32(0.5), "n": numpy.int64(7), "bad": torch.tensor(float("nan"))})
        self.assertEqual(converted["loss"], 0.25)
        self.assertEqual(converted["acc"], 0.5)
        self.assertEqual(converted["n"], 7)
        self.assertIsInstance(converted["n"], int)
        self.assertEqual(converted["bad"], {"$number": "NaN"})
        with self.assertRaisesRegex(InvalidArgumentError, r'metric "loss" is a torch.Tensor with 3 elements; metrics must be single numbers \(convert tensors with .item\(\)\)'):
            metrics_to_json({"loss": torch.tensor([1.0, 2.0, 3.0])})


NO_NUMPY = """
import sys

import cairn


class Scalar:
    # Quacks like a numpy scalar or a 0-d tensor: the binding must only call .item().
    def __init__(self, value):
        self.value = value

    def item(self):
        return self.value


experiment = cairn.init(params={"lr": Scalar(0.1)})
experiment.checkpoint(metrics={"loss": Scalar(float("inf")), "acc": Scalar(0.5)})
experiment.stop()
print("imported:", sorted(name for name in ("numpy", "torch") if name in sys.modules))
"""


class NoImportTest(ProjectTestCase):
    def test_values_convert_without_importing_numpy_or_torch(self) -> None:
        project = make_project({"script.py": NO_NUMPY})
        result = run_python(project, ["script.py"])
        self.assertEqual(result.code, 0, result)
        self.assertIn("imported: []", result.stdout)
        (experiment,) = cli_json(project, "ls")
        self.assertEqual(experiment["params"], {"lr": 0.1})
        self.assertEqual(experiment["latest"]["metrics"], {"loss": "Infinity", "acc": 0.5})
