import pytest
import torch

from common.models import Transformer
from common.models.positions import alibi_slopes, apply_rope, attention_bias, hard_alibi_windows, rope_tables


def test_alibi_slopes_power_of_two_heads():
    # Press et al. 2022: for 8 heads the slopes are 1/2, 1/4, ..., 1/256.
    assert torch.allclose(alibi_slopes(8), torch.tensor([2.0 ** -(h + 1) for h in range(8)], dtype=torch.float64))
    assert torch.allclose(alibi_slopes(4), torch.tensor([2.0 ** -(2 * (h + 1)) for h in range(4)], dtype=torch.float64))


def test_alibi_slopes_other_head_counts_take_from_next_power_of_two():
    s12 = alibi_slopes(12)
    s16 = alibi_slopes(16)
    assert len(s12) == 12 and len(set(s12.tolist())) == 12
    assert set(s12.tolist()) <= set(s16.tolist())
    assert torch.equal(s12[:8], s16[1::2])  # every other slope of the 16-head set first


def test_alibi_bias_is_minus_slope_times_distance():
    pos = torch.arange(5)
    bias = attention_bias("alibi", 4, pos, pos)
    slopes = alibi_slopes(4)
    for h in range(4):
        for i in range(5):
            for j in range(5):
                want = -slopes[h].item() * (i - j) if j <= i else float("-inf")
                assert bias[h, i, j].item() == pytest.approx(want)


def test_hard_alibi_head_h_sees_exactly_h_plus_one_latest_keys():
    n_heads, masked, T = 6, 4, 9
    bias = attention_bias("hard_alibi", n_heads, torch.arange(T), torch.arange(T), num_masked_heads=masked)
    windows = hard_alibi_windows(n_heads, masked)
    assert windows == [1, 2, 3, 4, None, None]
    for h in range(n_heads):
        for i in range(T):
            visible = [j for j in range(T) if bias[h, i, j] == 0]
            expected = list(range(max(0, i - windows[h] + 1), i + 1)) if windows[h] else list(range(i + 1))
            assert visible == expected, (h, i)
    assert not torch.isnan(bias).any()


def test_hard_alibi_rejects_more_masked_heads_than_heads():
    with pytest.raises(ValueError, match="num_masked_heads"):
        Transformer(10, d_model=16, n_layer=1, n_head=2, position="hard_alibi", num_masked_heads=3)


def test_rope_scores_depend_only_on_relative_offset():
    D = 8
    q, k = torch.randn(D, dtype=torch.float64), torch.randn(D, dtype=torch.float64)

    def score(i, j):
        cos, sin = rope_tables(D, torch.tensor([i, j]), dtype=torch.float64)
        qi = apply_rope(q.view(1, 1, 1, D), cos[:1], sin[:1])
        kj = apply_rope(k.view(1, 1, 1, D), cos[1:], sin[1:])
        return (qi * kj).sum().item()

    assert score(7, 3) == pytest.approx(score(14, 10))
    assert score(7, 3) != pytest.approx(score(7, 5))


@pytest.mark.parametrize("position", ["nope", "rope", "alibi", "hard_alibi"])
def test_transformer_is_causal(position):
    m = Transformer(12, d_model=32, n_layer=2, n_head=4, position=position, num_masked_heads=2).double().eval()
    x = torch.randint(0, 12, (2, 10))
    y = x.clone()
    y[:, 6:] = (y[:, 6:] + 1) % 12
    assert torch.allclose(m(x)[:, :6], m(y)[:, :6])
    assert not torch.allclose(m(x)[:, 6:], m(y)[:, 6:])


def test_hard_alibi_window_heads_ignore_tokens_outside_window():
    """With every head windowed to <= 2 keys and one layer, logits at t depend only on tokens t-1, t."""
    m = Transformer(12, d_model=16, n_layer=1, n_head=2, position="hard_alibi", num_masked_heads=2).double().eval()
    x = torch.randint(0, 12, (1, 8))
    y = x.clone()
    y[0, 2] = (y[0, 2] + 1) % 12
    diff = (m(x) - m(y)).abs().amax(-1)[0]
    assert torch.all(diff[:2] == 0) and torch.all(diff[4:] == 0) and diff[2] > 0 and diff[3] > 0
