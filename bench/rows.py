"""Bulk rows of the synthetic data set (:mod:`bench.data`): citizens, ballots with their
choices, comments. Rows get explicit ids and go in chunk by chunk with
:func:`participation.importing_base.insert_rows` (``executemany`` on SQLite, ``COPY`` on
PostgreSQL), so memory stays flat at a million ballots; random values come from fixed seeds.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Engine, Table, func, select
from sqlalchemy.orm import Session

from core.db import session_scope
from models import Ballot, BallotChoice, Comment
from participation.importing_base import insert_rows

CHUNK = 50_000
"""Rows generated and inserted per step."""
DISTRICTS = tuple(f"District {i:02d}" for i in range(1, 13))
AGE_BANDS = ((18, 24), (25, 34), (35, 44), (45, 54), (55, 64), (65, None))
CHANNELS = ("web",) * 14 + ("sms", "sms", "email", "email", "phone", "letter")
_VOCABULARY = (
    "park bench tree lights river path school library bus stop square market playground bike "
    "lane garden fountain repair safety crossing noise clean water sports hall youth elderly "
    "community centre footbridge parking trees flowers art mural signage"
)
WORDS = _VOCABULARY.split()
SEQUENCED = ("citizen", "ballot", "comment", "survey_response")


def sentence(rng: random.Random, words: int) -> str:
    """A sentence of ``words`` random words."""
    return " ".join(rng.choices(WORDS, k=words)).capitalize() + "."


def table_of(model: Any) -> Table:
    """The Core table of a mapped class."""
    table: Table = model.__table__
    return table


def next_id(session: Session, model: Any) -> int:
    """The next free id of ``model``'s table (rows here get explicit ids)."""
    return int(session.execute(select(func.coalesce(func.max(model.id), 0))).scalar_one()) + 1


def insert(session: Session, model: Any, rows: Sequence[Mapping[str, Any]]) -> None:
    """Bulk insert with :func:`participation.importing_base.insert_rows`."""
    insert_rows(session, table_of(model), rows)


def chunked(n: int, size: int = CHUNK) -> Iterator[range]:
    """Consecutive ranges of at most ``size`` covering ``range(n)``."""
    for start in range(0, n, size):
        yield range(start, min(n, start + size))


def citizen_row(i: int, rng: random.Random, at: datetime) -> dict[str, Any]:
    """Citizen ``i`` (1-based): every fifth prefers SMS and has only a phone."""
    sms = i % 5 == 4
    return {
        "id": i,
        "public_id": f"{rng.getrandbits(64):016x}",
        "display_name": f"Resident {i}",
        "email": None if sms else f"resident{i}@example.invalid",
        "phone": f"+4479{i:08d}" if sms else None,
        "locale": "fa" if i % 10 == 3 else "en",
        "time_zone": "Europe/Warsaw",
        "preferred_channel": "sms" if sms else "email",
        "district": DISTRICTS[i % len(DISTRICTS)],
        "birth_year": 1940 + rng.randrange(68),
        "gender": rng.choice(("f", "m")),
        "external_ref": None,
        "verified_at": None,
        "created_at": at,
    }


def insert_ballots(
    engine: Engine,
    cid: int,
    voters: np.ndarray[Any, Any],
    opens_at: datetime,
    hours: float,
    *,
    pids: Sequence[int] = (),
    seed: int = 2,
) -> int:
    """One ballot per voter; with ``pids``, 1-5 approvals each (weighted 1/rank^0.8)."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, len(pids) + 1) ** 0.8 if pids else None
    pid_arr = np.array(pids, np.int64)
    choices = 0
    with session_scope(engine) as s:
        first = next_id(s, Ballot)
    for part in chunked(len(voters)):
        ids = np.arange(first + part.start, first + part.stop)
        citizens = voters[part.start : part.stop]
        offsets = rng.uniform(0, hours * 3600, len(ids))
        ch = rng.integers(0, len(CHANNELS), len(ids))
        rows = [
            {
                "id": int(b),
                "consultation_id": cid,
                "citizen_id": int(c),
                "channel": CHANNELS[int(k)],
                "cast_at": opens_at + timedelta(seconds=float(o)),
                "recorded_by": None,
                "receipt_code": f"B{int(b):015d}",
                "revision": 1,
            }
            for b, c, k, o in zip(ids, citizens, ch, offsets, strict=True)
        ]
        choice_rows: list[dict[str, Any]] = []
        if weights is not None:
            k = rng.integers(1, 6, len(ids))
            # weighted sampling without replacement: the top k of log(w) + Gumbel noise
            keys = np.log(weights)[None, :] + rng.gumbel(size=(len(ids), len(pids)))
            order = np.argsort(-keys, axis=1)
            for row, b, kk in zip(order, ids, k, strict=True):
                for j in row[:kk]:
                    choice_rows.append(
                        {
                            "ballot_id": int(b),
                            "proposal_id": int(pid_arr[j]),
                            "consultation_id": cid,
                            "value": 1,
                        }
                    )
        with session_scope(engine) as s:
            insert(s, Ballot, rows)
            insert(s, BallotChoice, choice_rows)
        choices += len(choice_rows)
    return choices


def insert_comments(
    engine: Engine,
    cid: int,
    pids: Sequence[int],
    n: int,
    citizens: int,
    start: datetime,
    hours: float,
    *,
    first_share: float = 0.0,
    seed: int = 3,
) -> None:
    """``n`` comments: 70 % top-level (``first_share`` of them on the first proposal),
    30 % replies to a top-level comment of the same proposal; 3 % hidden."""
    rng = random.Random(seed)
    with session_scope(engine) as s:
        first_id = next_id(s, Comment)
    tops: list[tuple[int, int]] = []  # (comment id, proposal id) of top-level comments
    n_top = max(1, int(n * 0.7))
    ids = iter(range(first_id, first_id + n))
    for phase, count in (("top", n_top), ("reply", n - n_top)):
        for part in chunked(count):
            rows = []
            for _ in part:
                cid_ = next(ids)
                parent: int | None = None
                if phase == "top":
                    pid = pids[0] if rng.random() < first_share else rng.choice(pids)
                    tops.append((cid_, pid))
                else:
                    parent, pid = rng.choice(tops)
                hidden = rng.random() < 0.03
                rows.append(
                    {
                        "id": cid_,
                        "consultation_id": cid,
                        "proposal_id": pid,
                        "citizen_id": rng.randint(1, citizens),
                        "parent_id": parent,
                        "body": sentence(rng, rng.randint(8, 60)),
                        "stance": rng.choice(("for", "for", "against", "neutral")),
                        "channel": "web" if rng.random() < 0.9 else "sms",
                        "moderation_state": "hidden" if hidden else "visible",
                        "moderation_reason": "off-topic" if hidden else None,
                        "report_count": 1 if hidden else 0,
                        "recorded_by": None,
                        "external_ref": None,
                        "created_at": start + timedelta(seconds=rng.uniform(0, hours * 3600)),
                    }
                )
            with session_scope(engine) as s:
                insert(s, Comment, rows)
