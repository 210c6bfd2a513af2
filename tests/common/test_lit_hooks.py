"""The lightweight write of Lightning's hook name, and that every other attribute still goes through nn.Module."""
import torch

from common.lit import SequenceLM
from common.lit.classifier import BinaryClassifier
from common.models import LSTM


def test_hook_name_skips_module_bookkeeping_and_parameters_still_register(monkeypatch):
    m = SequenceLM(lambda v: LSTM(v, d_model=8), vocab_size=5)
    calls = []
    real = torch.nn.Module.__setattr__
    monkeypatch.setattr(torch.nn.Module, "__setattr__", lambda self, k, v: (calls.append(k), real(self, k, v))[1])
    m._current_fx_name = "training_step"
    assert m._current_fx_name == "training_step" and calls == []
    m.extra = torch.nn.Parameter(torch.zeros(2))
    assert calls == ["extra"] and "extra" in dict(m.named_parameters())


def test_both_lightning_modules_take_the_light_path():
    assert all(any(c.__name__ == "PlainHookName" for c in cls.__mro__) for cls in (SequenceLM, BinaryClassifier))
