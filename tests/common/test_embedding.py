"""The frozen, weight-tied sinusoidal token embedding of "RNNs are not Transformers (Yet)", for every family."""
import math

import pytest
import torch

from common.models import Hybrid, MambaLM, Transformer
from common.models.embedding import sinusoidal_table

BUILD = {
    "transformer": lambda **k: Transformer(11, d_model=8, n_layer=1, n_head=2, **k),
    "mamba": lambda **k: MambaLM(11, d_model=8, n_layer=1, d_state=2, backend="torch", **k),
    "hybrid": lambda **k: Hybrid(11, d_model=8, n_layer=1, n_head=2, d_state=2, mamba_backend="torch", **k),
}


def test_table_matches_the_formula_entry_by_entry():
    vocab, d = 7, 6
    table = sinusoidal_table(vocab, d)
    for i in range(vocab):
        for j in range(d):
            want = math.sin(i / 10000 ** (j / d)) if j % 2 == 0 else math.cos(i / 10000 ** ((j - 1) / d))
            assert table[i, j].item() == pytest.approx(want, abs=1e-6)


def _embedding(m):
    return m.wte if isinstance(m, Transformer) else m.backbone.embedding if isinstance(m, MambaLM) else m.embedding


@pytest.mark.parametrize("family", list(BUILD))
def test_sinusoidal_is_frozen_tied_and_not_counted(family):
    learned, fixed = BUILD[family](), BUILD[family](embedding="sinusoidal")
    emb = _embedding(fixed)
    assert torch.equal(emb.weight, sinusoidal_table(11, 8)) and not emb.weight.requires_grad
    assert fixed.lm_head.weight is emb.weight
    assert learned.num_params() - fixed.num_params() == 11 * 8  # the table is not a trainable parameter
    # Training moves everything else but never the table.
    opt = torch.optim.AdamW([p for p in fixed.parameters() if p.requires_grad], lr=1e-2)
    idx = torch.randint(0, 11, (2, 5))
    for _ in range(2):
        loss = torch.nn.functional.cross_entropy(fixed(idx).flatten(0, 1), idx.flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert torch.equal(emb.weight, sinusoidal_table(11, 8))
    assert emb.weight.grad is None


@pytest.mark.parametrize("family", list(BUILD))
def test_sinusoidal_needs_tied_embeddings_and_a_known_name(family):
    with pytest.raises(ValueError, match="tie_embeddings"):
        BUILD[family](embedding="sinusoidal", tie_embeddings=False)
    with pytest.raises(ValueError, match="embedding"):
        BUILD[family](embedding="random")


def test_hybrid_defaults_to_rmsnorm_like_the_official_hybrid():
    from common.models.mamba import RMSNorm

    m = Hybrid(11, d_model=8, n_layer=2, n_head=2, d_state=2, mamba_backend="torch")
    assert isinstance(m.norm_f, RMSNorm) and all(isinstance(b.norm, RMSNorm) for b in m.layers)
    m = Hybrid(11, d_model=8, n_layer=2, n_head=2, d_state=2, mamba_backend="torch", norm="layer")
    assert isinstance(m.norm_f, torch.nn.LayerNorm)
