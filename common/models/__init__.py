"""The architecture zoo. Every model is a ``SequenceModel``: token ids in, logits out."""
from common.models.base import SequenceModel
from common.models.rnn import GRU, LSTM, RNNLM
from common.models.transformer import Transformer

__all__ = ["SequenceModel", "Transformer", "RNNLM", "LSTM", "GRU"]
