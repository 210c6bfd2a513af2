"""A quantised state must move at initialisation: with a decay near 1 every p-bit update rounds
away, the state is constant and training starts from a model that carries no information (the
straight-through gradient then pushes gates that change nothing in the forward pass)."""
import random

import pytest
import torch

from common.tasks import collate
from replications.limits_dl.data import CompositionDataModule, CountingDataModule
from replications.limits_dl.models import QuantSSM

USED_P = (1, 2, 4)  # every p of the E1-E4b configs


def changed_fraction(model, inputs):
    hs = model.states(inputs)[0]
    return (hs[:, 1:] != hs[:, :-1]).float().mean().item()


@pytest.mark.parametrize("p", USED_P)
@pytest.mark.parametrize("d", [1, 8])
def test_default_quantised_state_changes_at_init(p, d):
    torch.manual_seed(0)
    dm = CompositionDataModule(n=4, k=1, queries="all", pairs=True)
    inputs = collate([dm.example(random.Random(i)) for i in range(128)], 0)["inputs"]
    model = QuantSSM(dm.vocab_size, d_model=64, d_state=d, bits=p, context=1)
    assert changed_fraction(model, inputs) > 0.01


@pytest.mark.parametrize("p", USED_P)
def test_default_quantised_counter_state_changes_at_init(p):
    torch.manual_seed(0)
    dm = CountingDataModule(max_train_len=16)
    inputs = collate([dm.train_example(random.Random(i)) for i in range(128)], 0)["inputs"]
    model = QuantSSM(dm.vocab_size, d_model=32, d_state=8, bits=p, context=1)
    assert changed_fraction(model, inputs) > 0.01


def test_the_old_default_was_dead():
    """The measure can fail: decay bias 4 (a = 0.98) freezes a 2-bit state."""
    torch.manual_seed(0)
    dm = CompositionDataModule(n=4, k=1, queries="all", pairs=True)
    inputs = collate([dm.example(random.Random(i)) for i in range(128)], 0)["inputs"]
    model = QuantSSM(dm.vocab_size, d_model=64, d_state=8, bits=2, context=1, decay_bias=4.0)
    assert changed_fraction(model, inputs) < 0.01
