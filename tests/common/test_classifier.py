"""BinaryClassifier: margin losses, one plain SGD step, the weight-movement measure, and its bad arguments."""
import math

import pytest
import torch

from common.lit.classifier import BinaryClassifier, margin_loss
from common.models.base import Network


class Linear(Network):
    def __init__(self, input_size: int):
        super().__init__()
        self.w = torch.nn.Linear(input_size, 1)

    def forward(self, x):
        return self.w(x).squeeze(-1)


def test_margin_losses_by_hand():
    score, y = torch.tensor([2.0, 0.5, -0.5, 0.0]), torch.tensor([1.0, 1.0, 1.0, -1.0])
    assert margin_loss(score, y, "hinge").tolist() == [0.0, 0.5, 1.5, 1.0]
    expected = [math.log1p(math.exp(-m)) for m in (2.0, 0.5, -0.5, 0.0)]
    assert margin_loss(score, y, "logistic").tolist() == pytest.approx(expected)
    with pytest.raises(ValueError, match="hinge, logistic"):
        margin_loss(score, y, "square")


def test_one_training_step_is_plain_sgd_and_movement_is_its_largest_change():
    module = BinaryClassifier(Linear, input_size=3, lr=0.5, movement_of=["w.weight"])
    opt = module.configure_optimizers()
    assert isinstance(opt, torch.optim.SGD) and opt.defaults["momentum"] == 0
    x, y = torch.tensor([[1.0, -1.0, 1.0], [-1.0, -1.0, 1.0]]), torch.tensor([1.0, -1.0])
    before = module.model.w.weight.detach().clone()
    loss = module.training_step({"x": x, "y": y}, 0)
    loss.backward()
    grad = module.model.w.weight.grad.clone()
    opt.step()
    assert torch.allclose(module.model.w.weight, before - 0.5 * grad)
    assert module.movement() == pytest.approx(float((0.5 * grad).abs().max()))
    assert module.model.num_params() == 4


def test_movement_of_an_unknown_parameter_names_the_parameters():
    with pytest.raises(ValueError, match="names no parameter; parameters: w.weight, w.bias"):
        BinaryClassifier(Linear, input_size=3, movement_of=["hidden.weight"])


def test_non_finite_loss_stops_with_what_to_change():
    module = BinaryClassifier(Linear, input_size=2, lr=0.1)
    with torch.no_grad():
        module.model.w.weight.fill_(float("nan"))
    with pytest.raises(FloatingPointError, match="lower model.init_args.lr"):
        module.training_step({"x": torch.ones(2, 2), "y": torch.ones(2)}, 0)
