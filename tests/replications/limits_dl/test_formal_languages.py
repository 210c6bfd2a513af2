"""a^n b^n completions against a regex check written here: completions forced and correct,
wrong ones rejected."""
import random
import re

import pytest

from replications.limits_dl import formal_languages as FL
from replications.limits_dl.vocab import VOCAB


def anbn_by_regex(s: str) -> bool:
    m = re.fullmatch(r"(a*)(b*)", s)
    return bool(m) and len(m.group(1)) == len(m.group(2))


def test_completions_are_forced_and_correct():
    rng = random.Random(4)
    for _ in range(300):
        ex = FL.completion_example(rng, "anbn", 1, 20)
        assert FL.check(ex)
        prefix = "".join(VOCAB.decode(ex.prompt[1:]))
        answer = VOCAB.decode(ex.answer)
        assert answer == ["b"] * (prefix.count("a") - prefix.count("b")) + ["<eos>"]
        assert anbn_by_regex(prefix + "".join(answer[:-1]))
        assert not anbn_by_regex(prefix) or prefix == "ab"


def test_completion_layout_by_hand():
    assert VOCAB.render(FL.completion_example(random.Random(0), "anbn", 3, 3).tokens) == "<bos> a a a b b b <eos>"
    with pytest.raises(ValueError):
        FL.encode_completion("aaa", "anbn")  # continuation not forced yet
    with pytest.raises(ValueError, match="unknown language"):
        FL.encode_completion("(()", "dyck1")


def test_checker_rejects_wrong_completions():
    ex = FL.encode_completion("aab", "anbn")
    long = ex.tokens[:-1] + [VOCAB.id("b"), VOCAB.eos_id]
    assert not FL.check(type(ex)(long, ex.target_mask + [True], ex.prompt_len))
    short = ex.tokens[:-2] + [VOCAB.eos_id]
    assert not FL.check(type(ex)(short, ex.target_mask[:-1], ex.prompt_len))
