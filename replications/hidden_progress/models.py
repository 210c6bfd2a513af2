"""The paper's small networks: from (B, n) inputs to (B,) real scores (they know nothing of tasks)."""
from __future__ import annotations

import torch
from torch import nn

from common.models.base import Network


class MLP(Network):
    """Two-layer ReLU network f(x) = a·ReLU(Wx + b) + c of width r (paper, pp. 5-6: architectures (i)-(iii)).

    Both layers and their biases are trained (biases are needed for odd k, App. C.2). PyTorch's default
    uniform initialisation, ±1/sqrt(fan_in) (the paper: Xavier-style uniform, and results "quite tolerant" to it).
    """

    def __init__(self, input_size: int, width: int = 100):
        super().__init__()
        self.hidden = nn.Linear(input_size, width)
        self.out = nn.Linear(width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(self.hidden(x))).squeeze(-1)


class SinNeuron(Network):
    """One sinusoidal neuron f(x) = sin(w·x + b), no second layer (paper, pp. 5-6: architecture (xiv); Fig. 3)."""

    def __init__(self, input_size: int):
        super().__init__()
        self.linear = nn.Linear(input_size, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(self.linear(x)).squeeze(-1)
