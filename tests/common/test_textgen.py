"""The shared text-generation layer on tiny randomly initialised Hugging Face models built from a config
(nothing is downloaded): batched, left-padded greedy decoding equals the argmax of a teacher-forced forward
pass over each prompt alone, per-prompt budgets and stop strings cut each row where decoding it alone would
stop, and a missing dependency or model is one line."""
import os
import sys

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

from common import textgen  # noqa: E402
from common.errors import ConfigError  # noqa: E402

WORDS = ["[UNK]", "[PAD]", "[EOS]"] + "a b c d e f g h i j k l".split()
PROMPTS = ["a b c", "d", "e f g h i j k", "l a", "b b b b"]  # lengths 3, 1, 7, 2, 4: rows need padding


def tiny_tokenizer():
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="[UNK]"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    return transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]",
                                                eos_token="[EOS]")


def tiny_model(family: str):
    torch.manual_seed(0)
    if family == "gpt2":
        cfg = transformers.GPT2Config(vocab_size=len(WORDS), n_positions=64, n_embd=16, n_layer=2, n_head=2,
                                      bos_token_id=2, eos_token_id=2, pad_token_id=1)
        return transformers.GPT2LMHeadModel(cfg).double().eval()
    cfg = transformers.MambaConfig(vocab_size=len(WORDS), hidden_size=16, state_size=4, num_hidden_layers=2,
                                   bos_token_id=2, eos_token_id=2, pad_token_id=1, use_cache=True)
    return transformers.MambaForCausalLM(cfg).double().eval()


@pytest.fixture(scope="module", params=["gpt2", "mamba"])
def generator(request):
    return textgen.TextGenerator(tiny_model(request.param), tiny_tokenizer(), batch_size=3)


def teacher_forced_argmax(gen, prompt: str, new: list[int]) -> list[int]:
    """The argmax next token at every generated position of ``prompt + new``, one forward pass, no padding."""
    ids = gen.tokenizer(prompt)["input_ids"]
    with torch.no_grad():
        logits = gen.model(torch.tensor([ids + new])).logits[0]
    return logits[len(ids) - 1: len(ids) - 1 + len(new)].argmax(-1).tolist()


def test_batched_greedy_equals_teacher_forced_argmax(generator):
    outs = generator.generate_ids(PROMPTS, 6, new_tokens_factor=1.0)  # budget 6 + the prompt's length
    eos = generator.tokenizer.eos_token_id
    for prompt, new in zip(PROMPTS, outs):
        budget = 6 + len(generator.tokenizer(prompt)["input_ids"])
        assert new == teacher_forced_argmax(generator, prompt, new)
        assert len(new) == budget or (new[-1] == eos and eos not in new[:-1])  # its own budget, or ended at eos
    assert len({len(n) for n in outs}) > 1  # the rows did have different budgets


def test_stop_string_cuts_each_row_where_it_first_appears(generator):
    full = generator.generate(PROMPTS, 10)
    words = full[0].split()
    stop = " ".join(words[1:3]) if len(words) >= 3 else words[-1]
    cut = generator.generate(PROMPTS, 10, stop=stop)
    for whole, part in zip(full, cut):
        tokens = whole.split()
        prefixes = [" ".join(tokens[:k]) for k in range(1, len(tokens) + 1)]
        expected = next((p for p in prefixes if stop in p), whole)
        assert part == expected
    assert stop in cut[0] and cut[0] != full[0] or cut[0].endswith(stop)


def test_sampling_is_seeded_and_greedy_is_the_default(generator):
    a = generator.generate(PROMPTS, 5, temperature=3.0, seed=7)
    assert a == generator.generate(PROMPTS, 5, temperature=3.0, seed=7)
    assert generator.generate(PROMPTS, 5) == generator.generate(PROMPTS, 5)


def test_load_from_a_folder_and_hotpotqa_uses_the_same_layer(tmp_path):
    from replications.rnns_not_transformers.hotpotqa import hf_generator

    tiny_model("gpt2").float().save_pretrained(tmp_path)
    tiny_tokenizer().save_pretrained(tmp_path)
    gen = textgen.load(str(tmp_path), device="cpu", local_only=True, batch_size=2)
    assert gen.model.dtype == torch.float32 and not gen.model.training
    expected = gen.generate(PROMPTS[:2], 4, skip_special_tokens=True)
    assert [hf_generator(str(tmp_path), max_new_tokens=4, device="cpu")(p) for p in PROMPTS[:2]] == expected


def test_missing_model_dtype_or_transformers_is_one_line(tmp_path, monkeypatch):
    with pytest.raises(ConfigError) as e:
        textgen.load(str(tmp_path / "nowhere"), local_only=True)
    assert "nowhere" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="dtype='float8'"):
        textgen.load(str(tmp_path), dtype="float8")
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(ImportError, match=r'pip install -e "\.\[pretrained\]"') as e:
        textgen.load(str(tmp_path))
    assert "\n" not in str(e.value)
