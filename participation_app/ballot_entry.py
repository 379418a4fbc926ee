"""Reading a paper (or phone) ballot as staff type it: pure parsing, no I/O.

Staff type the proposal numbers as written on the paper, separated by commas, spaces or
the Persian comma: ``3, 7, 12`` (approval, budget), ``7, 3, 12`` (a ranking, first choice
first), ``3:5, 7:2`` (points), ``3:yes, 7:no`` (yes/no/abstain) or ``3:agree, 7:pass``
(agree/disagree/pass). Persian digits are read too. The service checks the ballot against
the consultation's rules afterwards.
"""

from __future__ import annotations

import re
from typing import Final

from core.errors import ValidationError
from participation_app.basket import Kind

_TO_ASCII: Final = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")
_SPLIT: Final = re.compile(r"[,\s،;؛]+")
_WORDS: Final[dict[str, dict[str, int]]] = {
    "yes_no": {"yes": 1, "y": 1, "1": 1, "no": -1, "n": -1, "-1": -1, "abstain": 0, "a": 0, "0": 0},
    "agree": {
        "agree": 1,
        "a": 1,
        "1": 1,
        "disagree": -1,
        "d": -1,
        "-1": -1,
        "pass": 0,
        "p": 0,
        "0": 0,
    },
}


def parse_paper_ballot(kind: Kind, text: str) -> list[tuple[str, int]]:
    """Turn what staff typed into ``[(proposal reference, value), ...]`` in the order typed.

    Args:
        kind: the ballot's kind (:func:`participation_app.basket.kind_of`).
        text: the typed choices.
    Returns:
        pairs of reference and value: 1 for approval, the rank (1..n) for rankings, the
        points, or 1/-1/0.
    Raises:
        ValidationError: (field ``choices``) nothing typed, a token that does not fit the
        ballot, or a proposal named twice.
    """
    tokens = [tok for tok in _SPLIT.split(text.translate(_TO_ASCII).strip()) if tok]
    if not tokens:
        raise ValidationError("type at least one proposal number", field="choices")
    pairs: list[tuple[str, int]] = []
    for position, token in enumerate(tokens, start=1):
        ref, sep, value = token.partition(":")
        ref = ref.strip().lstrip("#")
        if not ref:
            raise ValidationError(f"{token!r} has no proposal number", field="choices")
        if kind in ("approve", "budget", "ranking"):
            if sep:
                raise ValidationError(
                    f"{token!r}: write only proposal numbers for this ballot", field="choices"
                )
            pairs.append((ref, position if kind == "ranking" else 1))
        elif kind == "points":
            if not value.strip().isdigit():
                raise ValidationError(f"{token!r}: write number:points", field="choices")
            pairs.append((ref, int(value)))
        else:
            words = _WORDS[kind]
            word = value.strip().lower()
            if word not in words:
                raise ValidationError(
                    f"{token!r}: write number:{'/'.join(k for k in words if len(k) > 2)}",
                    field="choices",
                )
            pairs.append((ref, words[word]))
    refs = [r for r, _ in pairs]
    twice = sorted({r for r in refs if refs.count(r) > 1})
    if twice:
        raise ValidationError(f"proposal(s) named twice: {', '.join(twice)}", field="choices")
    return pairs
