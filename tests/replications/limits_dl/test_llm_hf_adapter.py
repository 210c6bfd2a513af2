"""The local Hugging Face adapter with a tiny GPT-2 built and saved here (no download): its
weights are set so that it always writes the token "7", which makes the expected score of a
protocol run computable from the problems alone."""
import pytest
import torch

transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

from replications.limits_dl.llm import protocol as P  # noqa: E402
from replications.limits_dl.llm.hf_adapter import HFLocalModel  # noqa: E402
from replications.limits_dl.llm.interface import GenerationConfig  # noqa: E402

WORDS = ["[UNK]", "[PAD]", "[EOS]"] + [str(d) for d in range(10)] + ["Multiply", "by", "Write", "the"]


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny-gpt2")
    vocab = {w: i for i, w in enumerate(WORDS)}
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]",
                                                eos_token="[EOS]")
    fast.save_pretrained(path)
    cfg = transformers.GPT2Config(vocab_size=len(WORDS), n_positions=256, n_embd=16, n_layer=1, n_head=2,
                                  bos_token_id=2, eos_token_id=2)
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(cfg)
    with torch.no_grad():  # final norm outputs the constant e_0; only "7" has a component along e_0
        model.transformer.ln_f.weight.zero_()
        model.transformer.ln_f.bias.zero_()
        model.transformer.ln_f.bias[0] = 1.0
        model.transformer.wte.weight[:, 0] = 0.0
        model.transformer.wte.weight[WORDS.index("7"), 0] = 5.0
    model.save_pretrained(path)
    return str(path)


def test_hf_adapter_loads_local_checkpoint_and_decodes_greedily(tiny_checkpoint):
    m = HFLocalModel(tiny_checkpoint, batch_size=3, name="tiny")
    outs = m.complete(["Multiply 3 by 4 .", "Write 5", "the"], GenerationConfig(max_tokens=3))
    assert outs == ["7 7 7"] * 3  # only new tokens, left padding did not leak into the output
    assert m.complete(["Write 5"], GenerationConfig(max_tokens=2)) == ["7 7"]


def test_protocol_end_to_end_with_the_tiny_model(tiny_checkpoint):
    m = HFLocalModel(tiny_checkpoint, batch_size=8, name="tiny")
    res = P.evaluate(m, "multiplication:1x1", samples=40, runs=2, seed=5, config=GenerationConfig(max_tokens=2))
    expected = [sum(p.a * p.b == 7 for p in P.problems("multiplication:1x1", 40, 5, r)) / 40 for r in range(2)]
    assert res["accuracies"] == expected
    assert all(r["completion"] == "7 7" for r in res["records"])


def test_sampling_is_seeded(tiny_checkpoint):
    m = HFLocalModel(tiny_checkpoint, name="tiny")
    cfg = GenerationConfig(max_tokens=4, temperature=5.0, seed=11)
    assert m.complete(["Write 5"], cfg) == m.complete(["Write 5"], cfg)
