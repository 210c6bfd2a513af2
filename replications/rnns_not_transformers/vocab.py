"""Token vocabulary of the IsTree task, laid out as in the official code (``rnn/data.py``).

Sixteen special tokens in a fixed order, then one token per node id 0..n (the official
code adds ids up to and including n although only 0..n-1 occur), so ``vocab_size(n) = n + 17``.
Keeping the ids identical to the original makes datasets and checkpoints comparable.

>>> vocab_size(6)
23
>>> node_token(0), node_token(5), EOS, TRUE, FALSE
(16, 21, 5, 6, 7)
>>> decode([BOS, node_token(1), DASH, node_token(0), EOS, node_token(0), node_token(1), node_token(0), EOS, TRUE])
'[BOS] 1 - 0 [EOS] 0 1 0 [EOS] [TRUE]'
>>> encode('[BOS] 1 - 0 [EOS]') == [BOS, node_token(1), DASH, node_token(0), EOS]
True
"""
from __future__ import annotations

from typing import Iterable

SPECIALS: tuple[str, ...] = (
    "[", "]", ",", "-", "[PAD]", "[EOS]", "[TRUE]", "[FALSE]", " ", "\n",
    "[UNK]", "[BOS]", "[STARTSEARCH]", "[ENDSEARCH]", "[FAILED]", "~",
)
N_SPECIALS = len(SPECIALS)
_ID = {name: i for i, name in enumerate(SPECIALS)}

DASH = _ID["-"]
PAD = _ID["[PAD]"]
EOS = _ID["[EOS]"]
TRUE = _ID["[TRUE]"]
FALSE = _ID["[FALSE]"]
UNK = _ID["[UNK]"]
BOS = _ID["[BOS]"]
STARTSEARCH = _ID["[STARTSEARCH]"]
ENDSEARCH = _ID["[ENDSEARCH]"]
FAILED = _ID["[FAILED]"]
TILDE = _ID["~"]

# How the two whitespace tokens are shown by ``decode`` (they never occur in the task).
_SHOW = {" ": "[SPACE]", "\n": "[NEWLINE]"}
_READ = {v: k for k, v in _SHOW.items()}


def node_token(i: int) -> int:
    """Token id of node ``i``."""
    if i < 0:
        raise ValueError(f"node id must be >= 0, got {i}")
    return N_SPECIALS + i


def is_node(token: int) -> bool:
    """Whether ``token`` is a node id token (any n)."""
    return token >= N_SPECIALS


def node_of(token: int) -> int:
    """Node id carried by a node token (inverse of ``node_token``)."""
    if not is_node(token):
        raise ValueError(f"token {token} is not a node")
    return token - N_SPECIALS


def vocab_size(n: int) -> int:
    """Vocabulary size for graphs on ``n`` nodes: 16 specials plus ids 0..n."""
    return N_SPECIALS + n + 1


def decode(tokens: Iterable[int]) -> str:
    """Space-separated readable form of a token sequence, for debugging and doctests."""
    out = []
    for t in tokens:
        t = int(t)
        if is_node(t):
            out.append(str(node_of(t)))
        elif 0 <= t < N_SPECIALS:
            out.append(_SHOW.get(SPECIALS[t], SPECIALS[t]))
        else:
            out.append(f"<{t}?>")
    return " ".join(out)


def encode(text: str) -> list[int]:
    """Inverse of ``decode``: whitespace-separated names or node ids to token ids."""
    out = []
    for word in text.split():
        if word.isdigit():
            out.append(node_token(int(word)))
        else:
            out.append(_ID[_READ.get(word, word)])
    return out
