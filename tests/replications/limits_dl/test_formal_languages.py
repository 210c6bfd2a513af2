"""a^n b^n and Dyck-1 completions against a regex / reduction check written here: completions
forced and correct, Dyck positives uniform."""
import random
import re
from collections import Counter

import pytest

from replications.limits_dl import formal_languages as FL
from replications.limits_dl.vocab import VOCAB


def anbn_by_regex(s: str) -> bool:
    m = re.fullmatch(r"(a*)(b*)", s)
    return bool(m) and len(m.group(1)) == len(m.group(2))


def dyck_by_reduction(s: str) -> bool:
    """Delete '()' until nothing changes; balanced iff the string vanishes."""
    if set(s) - set("()"):
        return False
    while "()" in s:
        s = s.replace("()", "")
    return s == ""


REF = {"anbn": anbn_by_regex, "dyck1": dyck_by_reduction}


@pytest.mark.parametrize("lang", FL.LANGUAGES)
def test_completions_are_forced_and_correct(lang):
    rng = random.Random(4)
    op, cl = FL.ALPHABET[lang]
    for _ in range(300):
        ex = FL.completion_example(rng, lang, 1, 20)
        assert FL.check(ex)
        prefix = "".join(VOCAB.decode(ex.prompt[1:]))
        answer = VOCAB.decode(ex.answer)
        assert answer == [cl] * (prefix.count(op) - prefix.count(cl)) + ["<eos>"]
        assert REF[lang](prefix + "".join(answer[:-1]))
        assert not REF[lang](prefix) or lang == "anbn" and prefix == "ab"


def test_completion_layout_by_hand():
    assert VOCAB.render(FL.completion_example(random.Random(0), "anbn", 3, 3).tokens) == "<bos> a a a b b b <eos>"
    with pytest.raises(ValueError):
        FL.encode_completion("aaa", "anbn")  # continuation not forced yet
    with pytest.raises(ValueError):
        FL.encode_completion("())", "dyck1")


def test_checker_rejects_wrong_completions():
    ex = FL.encode_completion("aab", "anbn")
    long = ex.tokens[:-1] + [VOCAB.id("b"), VOCAB.eos_id]
    assert not FL.check(type(ex)(long, ex.target_mask + [True], ex.prompt_len))
    ex = FL.encode_completion("((", "dyck1")
    short = ex.tokens[:-2] + [VOCAB.eos_id]
    assert not FL.check(type(ex)(short, ex.target_mask[:-1], ex.prompt_len))


def test_dyck_positives_are_uniform():
    """n = 3 has the 5 Catalan words; each should come up ~1/5 of the time."""
    rng = random.Random(5)
    counts = Counter(FL.sample_positive(rng, "dyck1", 3) for _ in range(5000))
    assert len(counts) == 5 and all(dyck_by_reduction(w) for w in counts)
    assert all(850 < c < 1150 for c in counts.values())
