"""Pretrained-model experiments: prompt builders against hand-checked text, scoring, and the runner end to end
on tiny randomly initialised GPT-NeoX and Mamba models saved to a temporary folder (nothing is downloaded)."""
import json
import os
import random

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never download; everything is built in tmp folders

from replications.repeat_after_me.pretrained import prompts as P
from replications.repeat_after_me.pretrained.__main__ import main
from replications.repeat_after_me.pretrained.run import PretrainedFigure, evaluate, load_config
from replications.repeat_after_me.pretrained.score import copy_prediction, exact_match, f1, phonebook_prediction, score


# ----- prompts, by hand -----
def test_phonebook_prompt_by_hand():
    book = [("Ann Lee", "6000000001"), ("Bob Ray", "7123456789"), ("Cat Fox", "8999999999")]
    p = P.phonebook_prompt_of(book, shots=[2, 0], query=1)  # the paper's printed format
    assert p.text == ("Ann Lee: 600-000-0001\nBob Ray: 712-345-6789\nCat Fox: 899-999-9999\n\n"
                      "Cat Fox: 899-999-9999\nAnn Lee: 600-000-0001\n\nBob Ray:")
    assert p.answers == ["712-345-6789"]
    p = P.phonebook_prompt_of(book, shots=[2, 0], query=1, phone_format="plain")  # the official code's
    assert p.text == ("Ann Lee: 6000000001\nBob Ray: 7123456789\nCat Fox: 8999999999\n\n"
                      "Cat Fox: 8999999999\nAnn Lee: 6000000001\n\nBob Ray:")
    assert p.answers == ["7123456789"]
    with pytest.raises(ValueError, match="phone_format"):
        P.format_number("6000000001", "dots")


def test_copy_and_squad_prompts_by_hand():
    p = P.copy_prompt("the cat sat on the mat")
    assert p.text == "the cat sat on the mat\n\nthe cat sat on the mat\n\nthe" and p.answers == ["cat sat on the mat"]
    q = P.squad_prompt("Paris is in France.", "Where is Paris?", "France", "What is in France?", ["Paris", "paris"])
    assert q.text == ("Paris is in France.\n\nQuestion: Where is Paris?\nAnswer: France\n\n"
                      "Question: What is in France?\nAnswer: ")
    assert q.answers == ["Paris", "paris"]


@pytest.mark.parametrize("seed", range(10))
def test_random_phonebook_prompts_are_well_formed(seed):
    rng = random.Random(seed)
    entries = rng.randint(3, 60)
    p = P.phonebook_prompt(rng, entries)
    book_text, examples, question = p.text.split("\n\n")
    book = dict(line.split(": ") for line in book_text.split("\n"))
    assert len(book) == entries  # distinct names
    assert all(len(n) == 12 and n[3] == n[7] == "-" and n.replace("-", "").isdigit() and n[0] in "6789"
               for n in book.values())
    shots = examples.split("\n")
    assert len(shots) == 2 and all(s.split(": ")[0] in book and book[s.split(": ")[0]] == s.split(": ")[1] for s in shots)
    name = question.removesuffix(":")
    assert question.endswith(":") and name in book and p.answers == [book[name]]
    assert all(not s.startswith(name + ":") for s in shots)  # the query is not one of the examples


def test_copy_text_windows_and_shuffles_tokens():
    tokenize = lambda s: [ord(c) for c in s]  # noqa: E731 (a character "tokenizer")
    detok = lambda ids: "".join(chr(i) for i in ids)  # noqa: E731
    docs = ["alpha beta\ngamma ", "delta epsilon ", "zeta eta theta "]
    for seed in range(20):
        plain = P.copy_text(random.Random(seed), docs, tokenize, detok, 12, shuffle=False)
        mixed = P.copy_text(random.Random(seed), docs, tokenize, detok, 12, shuffle=True)
        assert "\n" not in plain and len(plain) <= 12
        assert sorted(mixed.replace("\n", " ").strip()) == sorted(mixed.strip())
        assert sorted(plain.replace(" ", "")) == sorted(mixed.replace(" ", ""))  # same characters, new order
    window = P.text_window(random.Random(0), list(range(100)), 10, shuffle=False)
    assert window == list(range(window[0], window[0] + 10))
    with pytest.raises(ValueError):
        P.text_window(random.Random(0), [1, 2, 3], 3, shuffle=False)


# ----- scoring -----
def test_predictions_are_cut_as_the_official_evaluation():
    assert phonebook_prediction(" 6123456789\nMary Lee: 7") == "6123456789"
    assert copy_prediction("cat sat\non the mat\n\nthe cat") == "cat sat on the mat"
    assert score("phonebook", "6123456789\n", ["6123456789"]) == {"acc": 1.0}
    assert score("copy", "cat sat on\n\nx", ["cat sat"]) == {"acc": 0.0}


def test_squad_metrics():
    assert exact_match("The Cat!", "cat") == 1.0 and exact_match("a dog", "cat") == 0.0
    assert f1("the big cat", "a cat") == pytest.approx(2 / 3)  # tokens {big, cat} vs {cat}
    assert f1("dog", "cat") == 0.0
    s = score("squad", " Paris\n\nQuestion: x", ["France", "paris"])
    assert s == {"em": 1.0, "f1": 1.0}
    assert score("squad", "Paris<|endoftext|>junk", ["Paris"], eos="<|endoftext|>")["em"] == 1.0


@pytest.mark.parametrize("pred,gold,em,f", [
    ("U.S. Army", "US Army", 0.0, 0.4),  # "u s army" vs "us army": 1 of 3 and 1 of 2 tokens
    ("state-of-the-art", "state of the art", 1.0, 1.0),  # hyphens split words, "the" dropped
    ("New_York", "New York", 1.0, 1.0),
    ("Beyonc\u00e9\u2019s album", "Beyonc\u00e9s album", 0.0, 0.4),  # the curly quote splits like punctuation
    ("1,000 people", "1000 people", 0.0, 0.4),
])
def test_squad_normalisation_is_the_official_codes(pred, gold, em, f):
    """Punctuation becomes a space (official ``qa_evaluation_utils.py``), not deleted as in the SQuAD script."""
    assert exact_match(pred, gold) == em and f1(pred, gold) == pytest.approx(f)


def test_evaluate_separates_right_from_wrong_answers():
    cfg = PretrainedFigure(id="t", title="t", task="phonebook", lengths=[5, 9], models={"m": "x"}, per_length=4,
                           batches=2)
    prompts = {x: [[P.phonebook_prompt(random.Random(f"{x}/{b}/{i}"), x) for i in range(4)] for b in range(2)]
               for x in cfg.lengths}
    answer_of = {p.text: p.answers[0] for bs in prompts.values() for b in bs for p in b}
    oracle = evaluate(cfg, lambda texts: [answer_of[t] + "\nJohn" for t in texts], prompts)["final"]
    wrong = evaluate(cfg, lambda texts: ["0000000000"] * len(texts), prompts)["final"]
    assert oracle["acc@len=5"] == oracle["acc@len=9"] == 1.0 and wrong["acc@len=9"] == 0.0
    half = evaluate(cfg, lambda texts: [answer_of[t] if t in list(answer_of)[::2] else "no" for t in texts],
                    prompts)["final"]
    assert 0.0 < half["acc@len=5"] < 1.0 and half["n@len=5"] == 8


def test_every_shipped_config_loads():
    for name in ("fig1c", "c4_copy", "c4_copy_shuffled", "squad"):
        cfg = load_config(name)
        assert cfg.figure().claims and cfg.models


# ----- end to end on tiny models -----
@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    pytest.importorskip("transformers")
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM, MambaConfig, MambaForCausalLM, PreTrainedTokenizerFast

    tmp = tmp_path_factory.mktemp("tiny_lms")
    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tk.train_from_iterator(["Mary Smith: 6123456789\n\nQuestion: who?\nAnswer: the cat sat on the mat"], trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, eos_token="<|endoftext|>")
    paths = {}
    for name, model in [
        ("neox", GPTNeoXForCausalLM(GPTNeoXConfig(vocab_size=len(tok), hidden_size=16, num_hidden_layers=1,
                                                  num_attention_heads=2, intermediate_size=32,
                                                  max_position_embeddings=4096, eos_token_id=0, bos_token_id=0))),
        ("mamba", MambaForCausalLM(MambaConfig(vocab_size=len(tok), hidden_size=16, state_size=4, num_hidden_layers=1,
                                               eos_token_id=0, bos_token_id=0, pad_token_id=0))),
    ]:
        model.save_pretrained(tmp / name)
        tok.save_pretrained(tmp / name)
        paths[name] = str(tmp / name)
    return paths


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_half_precision_mamba_keeps_A_log_and_D_in_fp32(tiny_models, dtype):
    import torch

    from common.textgen import load
    from replications.repeat_after_me.pretrained.run import KEEP_FP32

    gen = load(tiny_models["mamba"], dtype=dtype, device="cpu", keep_fp32=KEEP_FP32)
    model = gen.model
    dtypes = {name.rsplit(".", 1)[-1]: p.dtype for name, p in model.named_parameters()}
    assert dtypes["A_log"] == dtypes["D"] == torch.float32
    assert {d for n, d in dtypes.items() if n not in ("A_log", "D")} == {getattr(torch, dtype)}
    ref = load(tiny_models["mamba"], dtype="float32", device="cpu").model
    a_log = dict(model.named_parameters())["backbone.layers.0.mixer.A_log"]
    assert torch.equal(a_log, dict(ref.named_parameters())["backbone.layers.0.mixer.A_log"])  # not rounded
    if dtype == "bfloat16":  # generation runs with the mixed dtypes (fp16 matmuls are not on every CPU)
        assert isinstance(gen.generate(["Mary Smith:"], max_new_tokens=3)[0], str)


def run_cli(config, tiny, runs, *extra):
    args = ["run", "--config", config, "--runs_dir", str(runs), "--device", "cpu", "--tokenizer", "own",
            "--dtype", "float32", "--per_length", "2", "--batches", "2", *extra]
    return main(args)


def test_phonebook_runner_end_to_end(tiny_models, tmp_path, capsys):
    rc = run_cli("fig1c", tiny_models, tmp_path, "--lengths", "3", "6", "--models",
                 f"pythia-410m={tiny_models['neox']}", f"mamba-2.8b={tiny_models['mamba']}")
    assert rc == 0
    for label in ("pythia-410m", "mamba-2.8b"):
        r = json.loads((tmp_path / "repeat_after_me" / "fig1c" / f"model={label}" / "result.json").read_text())
        assert set(r["final"]) >= {"acc@len=3", "acc@len=6", "acc_std@len=6"} and r["final"]["n@len=6"] == 4
        assert 0.0 <= r["final"]["acc@len=3"] <= 1.0
    md = (tmp_path / "repeat_after_me" / "fig1c" / "report.md").read_text()
    assert "Runs finished: 2 of 6" in md and "| Pythia-410M outperforms" in md


def test_copy_runner_marks_published_values_not_run_here(tiny_models, tmp_path):
    docs = tmp_path / "docs.txt"
    docs.write_text("the quick brown fox jumps over the lazy dog\n" + json.dumps({"text": "a line of json text"}) + "\n")
    assert run_cli("c4_copy_shuffled", tiny_models, tmp_path, "--lengths", "4", "--data_file", str(docs),
                   "--models", f"pythia-410m={tiny_models['neox']}") == 0
    r = json.loads((tmp_path / "repeat_after_me" / "c4_copy_shuffled" / "model=pythia-410m" / "result.json").read_text())
    assert "acc@len=4" in r["final"]
    md = (tmp_path / "repeat_after_me" / "c4_copy_shuffled" / "report.md").read_text()
    assert "| mamba-2.8b | 0.000 / not run here |" in md  # the published cell, laid out with no run beside it


def test_squad_runner_bins_paragraphs(tiny_models, tmp_path):
    def para(words):
        ctx = " ".join(["word"] * words)
        qas = [{"question": "Q1?", "answers": [{"text": "word"}]}, {"question": "Q2?", "answers": [{"text": "word"}]},
               {"question": "none?", "answers": [], "is_impossible": True}]
        return {"context": ctx, "qas": qas}
    squad = tmp_path / "squad.json"
    squad.write_text(json.dumps({"data": [{"paragraphs": [para(2), para(3), para(40), para(45)]}]}))
    assert run_cli("squad", tiny_models, tmp_path, "--lengths", "20", "1000", "--data_file", str(squad), "--batches", "1",
                   "--models", f"pythia-2.8b={tiny_models['neox']}") == 0
    r = json.loads((tmp_path / "repeat_after_me" / "squad" / "model=pythia-2.8b" / "result.json").read_text())
    assert r["final"]["n@len=20"] == 2 and r["final"]["n@len=1000"] == 2  # short and long paragraphs apart
    assert {"f1@len=20", "em@len=1000"} <= set(r["final"])
