"""Loads the best model of an experiment back and measures it on fresh data.

    python3 infer.py            # the experiment with the lowest loss
    python3 infer.py e510303    # an experiment by ID (or a prefix of one)
    python3 infer.py 3ccb2f1    # a checkpoint by its own ID
"""

import sys

import torch

import cairn
from model import SpiralNet, accuracy, make_spirals


def choose(identifier):
    if identifier is None:
        candidates = cairn.experiments.list(filter="status = stopped", sort="metrics.loss:asc")
        if not candidates:
            sys.exit("No finished experiment yet: run train.py first.")
        return candidates[0].best()
    try:
        return cairn.experiments.get(identifier).best()
    except cairn.NotFoundError:
        return cairn.checkpoints.get(identifier)


def main() -> None:
    checkpoint = choose(sys.argv[1] if len(sys.argv) > 1 else None)
    experiment = checkpoint.experiment
    model = SpiralNet(experiment.params["hidden"])
    # open() hands over a real file, streamed from the repository and verified: torch.load reads it.
    with checkpoint.open("model.pth") as file:
        model.load_state_dict(torch.load(file))
    inputs, labels = make_spirals(200, seed=12345)
    print(f"checkpoint {checkpoint.short_id} of experiment {experiment.short_id} (step {checkpoint.step}, params {experiment.params})")
    print(f"accuracy on fresh data: {accuracy(model, inputs, labels):.3f}")


if __name__ == "__main__":
    main()
