"""The idealised n-gram copier that sizes the CPU models: hand-computed cases, enumeration, and limits."""
from fractions import Fraction

import pytest

from replications.repeat_after_me.ngram_copier import accuracy, exact_accuracy, success_probability


def test_hand_computed_two_letter_strings():
    # "ab": every 1-token key is unique -> 1. "aa": after "a" both "a" and "|" follow an "a" -> 1/2, twice.
    assert success_probability(["a", "b"], 1) == 1
    assert success_probability(["a", "a"], 1) == Fraction(1, 4)
    assert exact_accuracy(2, 1, 2) == Fraction(5, 8)  # (1 + 1 + 1/4 + 1/4) / 4


def test_a_repeated_key_with_different_successors_is_a_coin_flip():
    # "abac", n = 1: "a" is followed by "b" and by "c", so both picks after an "a" are 1/2; a 2-token key
    # ("$a" vs "ba") tells them apart
    assert success_probability(list("abac"), 1) == Fraction(1, 4)
    assert success_probability(list("abac"), 2) == 1


def test_sampled_accuracy_agrees_with_enumeration():
    for n in (1, 2):
        assert accuracy(6, n, alphabet=3, samples=3000) == pytest.approx(float(exact_accuracy(6, n, 3)), abs=0.03)


def test_longer_keys_copy_longer_strings():
    # the ceiling that sizes the CPU models: a 2-token key fails at length 40, a 3-token key barely
    two, three = accuracy(40, 2, samples=500), accuracy(40, 3, samples=500)
    assert two < 0.6 < 0.9 < three
    assert accuracy(20, 5, samples=200) == 1.0
