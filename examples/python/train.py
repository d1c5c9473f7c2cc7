"""Trains SpiralNet and records each epoch with Cairn.

    python3 train.py --lr 0.05 --epochs 100

Every epoch saves model.pth and records it as a checkpoint with its loss and accuracy; Cairn
keeps the code, the params, the environment and every checkpoint in the repository (.cairn/
here, or the one cairn.yaml names). Then: `cairn ls`, `cairn show ID`, or infer.py.
"""

import argparse

import torch
from torch import nn

import cairn
from model import SpiralNet, accuracy, make_spirals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    inputs, labels = make_spirals(200, seed=args.seed)
    model = SpiralNet(args.hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_function = nn.CrossEntropyLoss()

    experiment = cairn.init(path=".", params=vars(args))
    print(f"experiment {experiment.short_id}", flush=True)
    for epoch in range(args.epochs):
        optimizer.zero_grad()
        loss = loss_function(model(inputs), labels)
        loss.backward()
        optimizer.step()

        torch.save(model.state_dict(), "model.pth")
        # loss is a 0-d tensor: Cairn takes it as it is (NaN and inf too, should training diverge).
        experiment.checkpoint(
            path="model.pth",
            step=epoch,
            metrics={"loss": loss.detach(), "accuracy": accuracy(model, inputs, labels)},
            primary_metric=("loss", "minimize"),
        )
    experiment.stop()
    best = experiment.best()
    print(f"best checkpoint {best.short_id}: step {best.step}, loss {best.metrics['loss']:.4f}, accuracy {best.metrics['accuracy']:.3f}")


if __name__ == "__main__":
    main()
