import pytest
import torch

from common.decoding import greedy_generate, retrieval_generate
from common.models import GRU, LSTM, Transformer

MODELS = {
    "transformer-nope": lambda: Transformer(11, d_model=32, n_layer=2, n_head=4, position="nope"),
    "transformer-rope": lambda: Transformer(11, d_model=32, n_layer=2, n_head=4, position="rope", rope_fraction=0.25),
    "transformer-alibi": lambda: Transformer(11, d_model=32, n_layer=2, n_head=4, position="alibi"),
    "transformer-hard_alibi": lambda: Transformer(11, d_model=32, n_layer=2, n_head=4, position="hard_alibi", num_masked_heads=3),
    "transformer-llama": lambda: Transformer(11, d_model=32, n_layer=2, n_head=4, norm="rms", mlp="swiglu", bias=False),
    "lstm": lambda: LSTM(11, d_model=24, n_layer=2),
    "gru": lambda: GRU(11, d_model=24, n_layer=2),
}


@pytest.mark.parametrize("name", MODELS)
def test_stepwise_state_equals_full_forward(name):
    m = MODELS[name]().double().eval()
    x = torch.randint(0, 11, (3, 13))
    full = m(x)
    state = m.init_state(3)
    parts = []
    for a, b in [(0, 5), (5, 6), (6, 7), (7, 13)]:
        logits, state = m.step(x[:, a:b], state)
        parts.append(logits)
    assert torch.allclose(torch.cat(parts, 1), full, atol=1e-10)


@pytest.mark.parametrize("name", MODELS)
def test_greedy_decoding_equals_teacher_forced_argmax(name):
    m = MODELS[name]().double().eval()
    prompt = torch.randint(0, 11, (4, 6))
    gen = greedy_generate(m, prompt, max_new_tokens=9)
    logits = m(torch.cat([prompt, gen[:, :-1]], 1))
    assert torch.equal(logits[:, prompt.shape[1] - 1:].argmax(-1), gen)


def test_greedy_stop_id_freezes_finished_rows():
    m = MODELS["lstm"]().double().eval()
    prompt = torch.randint(0, 11, (5, 4))
    free = greedy_generate(m, prompt, 8)
    stop = int(free[0, 2])
    gen = greedy_generate(m, prompt, 8, stop_id=stop)
    for row_free, row in zip(free, gen):
        hits = (row_free == stop).nonzero()
        if len(hits):
            k = int(hits[0])
            assert torch.equal(row[: k + 1], row_free[: k + 1]) and torch.all(row[k:] == stop)
        else:
            assert torch.equal(row, row_free)


def test_retrieval_generate_splices_retrieved_tokens_into_context():
    m = MODELS["transformer-nope"]().double().eval()
    prompt = [1, 2, 3]
    trigger = int(greedy_generate(m, torch.tensor([prompt]), 1)[0, 0])
    calls = []

    def retriever(seq):
        calls.append(list(seq))
        return [7, 8] if len(calls) == 1 else None

    out = retrieval_generate(m, prompt, 6, retriever)
    assert out[:3] == [trigger, 7, 8] and len(out) == 6
    # The tokens after the splice are what the model predicts given the spliced context.
    ctx = prompt + out[:3]
    assert out[3] == int(m(torch.tensor([ctx]))[0, -1].argmax())
