"""p-bit quantiser (levels, error bound, straight-through gradient), the finite-precision counter
(failure points per dtype against the closed form and literal values) and the theorem bounds."""
import math

import pytest
import torch

from replications.limits_dl import bounds as B
from replications.limits_dl import counter as K
from replications.limits_dl import quantize as Q


@pytest.mark.parametrize("bits", [1, 2, 3, 4, 6, 8])
@pytest.mark.parametrize("lo,hi", [(-1.0, 1.0), (0.0, 5.0), (-3.0, 0.5)])
def test_quantiser_has_2p_levels_and_half_step_error(bits, lo, hi):
    x = torch.linspace(lo, hi, 20001, dtype=torch.float64)
    q = Q.quantize(x, bits, lo, hi)
    lv = Q.levels(bits, lo, hi, dtype=torch.float64)
    assert len(lv) == 2 ** bits
    assert torch.equal(torch.unique(q), lv)  # every level used, nothing else produced
    step = (hi - lo) / (2 ** bits - 1)
    assert (q - x).abs().max().item() <= step / 2 + 1e-12
    assert torch.allclose(lv[1:] - lv[:-1], torch.full((2 ** bits - 1,), step, dtype=torch.float64))


def test_quantiser_clamps_and_keeps_dtype():
    x = torch.tensor([-9.0, 9.0, 0.2], dtype=torch.float32)
    q = Q.quantize(x, 4)
    assert q.dtype == torch.float32 and q[0] == -1 and q[1] == 1
    assert torch.all(Q.quantize(q, 4) == q)  # idempotent


def test_straight_through_gradients():
    x = torch.tensor([-2.0, -0.3, 0.4, 1.5], requires_grad=True)
    y = Q.quantize_ste(x, 2)
    y.sum().backward()
    assert torch.equal(x.grad, torch.tensor([0.0, 1.0, 1.0, 0.0]))
    assert torch.equal(y.detach(), Q.quantize(x.detach(), 2))


def test_quantiser_rejects_bad_bits():
    h = torch.randn(2, 8)
    with pytest.raises(ValueError):
        Q.quantize(h, 0)
    with pytest.raises(ValueError):
        Q.quantize(h, 1.5)


EXPECTED = {torch.float16: 2048, torch.bfloat16: 256, torch.float32: 16777216}


@pytest.mark.parametrize("dtype", list(EXPECTED))
def test_counter_failure_matches_closed_form(dtype):
    assert K.predicted_failure(dtype) == EXPECTED[dtype]
    assert K.find_failure(dtype) == EXPECTED[dtype]


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_counter_trajectory_sticks(dtype):
    n = EXPECTED[dtype]
    traj = K.run_counter(dtype, n + 5).double()
    assert torch.equal(traj[:n], torch.arange(1, n + 1, dtype=torch.float64))
    assert torch.all(traj[n:] == n)


def test_counter_closed_form_other_dtypes():
    assert K.predicted_failure(torch.float64) == 2 ** 53
    assert float(2 ** 53) + 1 == float(2 ** 53)  # the same sticking, checked in Python floats
    assert K.find_failure(torch.float32, limit=2 ** 20) is None  # exact through the limit
    with pytest.raises(ValueError):
        K.predicted_failure(torch.int32)


def test_theorem_bounds():
    assert B.composition_entropy_bits(32) == 160
    assert B.theorem1_state_bits(3, 4) == 48
    assert math.isclose(B.theorem1_error_lower_bound(32, 3, 4), (160 - 48) / 480)
    assert B.theorem1_error_lower_bound(8, 4, 8) == 0.0
    assert B.theorem2_cot_steps_lower_bound(64, 4, 4) < 1  # vacuous at trainable sizes (note §3)
