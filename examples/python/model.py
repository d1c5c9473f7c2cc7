"""The model and the data of the example: a small network that tells two interleaved spirals apart.

The data set is made here, from a seed, so the example needs no download.
"""

import math

import torch
from torch import nn


def make_spirals(points_per_class: int, seed: int, noise: float = 0.15):
    """Two spirals in the plane: returns inputs of shape (2n, 2) and labels of shape (2n,)."""
    generator = torch.Generator().manual_seed(seed)
    t = torch.linspace(0.25, 3 * math.pi, points_per_class)
    inputs, labels = [], []
    for label, phase in ((0, 0.0), (1, math.pi)):
        x = t * torch.cos(t + phase) / (3 * math.pi)
        y = t * torch.sin(t + phase) / (3 * math.pi)
        points = torch.stack([x, y], dim=1) + noise * torch.randn(points_per_class, 2, generator=generator) / 3
        inputs.append(points)
        labels.append(torch.full((points_per_class,), label, dtype=torch.long))
    return torch.cat(inputs), torch.cat(labels)


class SpiralNet(nn.Module):
    def __init__(self, hidden: int = 32):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, 2))

    def forward(self, inputs):
        return self.layers(inputs)


def accuracy(model: nn.Module, inputs, labels) -> float:
    with torch.no_grad():
        return (model(inputs).argmax(dim=1) == labels).float().mean().item()
