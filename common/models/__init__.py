"""The architecture zoo. Every model is a ``SequenceModel``: token ids in, logits out, plus a
step-wise decoding state. Configs name a model by ``class_path`` (e.g. ``common.models.Hybrid``);
``FAMILIES`` maps short names to classes for sizing helpers and benchmarks. See README.md here
for how to add an architecture."""
from common.models.base import SequenceModel
from common.models.hybrid import Hybrid
from common.models.mamba import Mamba, MambaLM
from common.models.rnn import GRU, LSTM, RNNLM
from common.models.transformer import Transformer

FAMILIES: dict[str, type[SequenceModel]] = {
    "transformer": Transformer,
    "lstm": LSTM,
    "gru": GRU,
    "mamba": MambaLM,
    "hybrid": Hybrid,
}

__all__ = ["SequenceModel", "Transformer", "RNNLM", "LSTM", "GRU", "Mamba", "MambaLM", "Hybrid", "FAMILIES"]
