"""Vocabulary invariants, and every module's worked docstring examples run as tests."""
import doctest
import importlib

import pytest

from replications.limits_dl.vocab import VOCAB, Vocab

MODULES = ["vocab", "composition", "composition_text", "multiplication", "dynamic_programming", "einstein",
           "formal_languages", "quantize", "counter", "bounds", "text_problem", "llm.protocol"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    mod = importlib.import_module(f"replications.limits_dl.{name}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_ids_unique_and_round_trip():
    assert len(set(VOCAB.tokens)) == VOCAB.size
    assert VOCAB.decode(VOCAB.encode("<bos> ( a = 7 f1 C5 <eos>")) == "<bos> ( a = 7 f1 C5 <eos>".split()
    assert (VOCAB.pad_id, VOCAB.bos_id, VOCAB.eos_id) == (0, 1, 2)


def test_value_tokens_are_disjoint_per_level():
    v = Vocab(max_n=5, max_levels=4)
    ids = {(lv, x): v.value(lv, x) for lv in range(4) for x in range(5)}
    assert len(set(ids.values())) == 20
    assert all(v.value_of(i) == key for key, i in ids.items())
    assert v.value_of(v.id("=")) is None
    with pytest.raises(ValueError):
        v.value(0, 5)


@pytest.mark.parametrize("x", [0, 7, -3, 120, -4056, 10 ** 12])
def test_numbers_round_trip(x):
    assert VOCAB.decode_number(VOCAB.encode_number(x)) == x


@pytest.mark.parametrize("text", ["0 7", "- 0", "", "- - 1", "1 - 2"])
def test_non_canonical_numbers_rejected(text):
    with pytest.raises(ValueError):
        VOCAB.decode_number(VOCAB.encode(text))
