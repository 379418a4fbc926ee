"""Statements run on the DBAPI cursor (core.prepared) store what the ORM stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from core.prepared import Prepared
from models import Contact
from tests import factories as f

_CONTACT = Contact.__table__
_ADD = Prepared(insert(_CONTACT), ["citizen_id", "channel", "direction", "kind", "ref_id", "at"])
_MOVE = Prepared(
    update(_CONTACT)
    .where(_CONTACT.c.ref_id == bindparam("ref"), _CONTACT.c.kind == "reminder")
    .values(at=bindparam("new_at")),
    ["ref", "new_at"],
)


def test_rows_match_the_orms_rows_and_literal_binds_are_kept(session):
    voter = f.citizen(session)
    at = datetime(2026, 3, 2, 9, 0, 0, 123456, tzinfo=UTC)
    session.add(
        Contact(
            citizen_id=voter, channel="web", direction="inbound", kind="ballot", ref_id=1, at=at
        )
    )
    session.flush()
    conn = session.connection()
    # the same instant given in another time zone is stored as the same UTC value
    _ADD.execute(
        conn,
        {
            "citizen_id": voter,
            "channel": "web",
            "direction": "inbound",
            "kind": "ballot",
            "ref_id": 2,
            "at": at.astimezone(timezone(timedelta(hours=3, minutes=30))),
        },
    )
    _ADD.executemany(
        conn,
        [
            {
                "citizen_id": voter,
                "channel": "sms",
                "direction": "outbound",
                "kind": k,
                "ref_id": 3,
                "at": at,
            }
            for k in ("reminder", "invitation")
        ],
    )
    same = session.execute(
        select(func.count()).select_from(Contact).where(Contact.at == at)
    ).scalar_one()
    assert same == 4
    assert (
        session.execute(
            select(func.count(func.distinct(Contact.at))).where(Contact.citizen_id == voter)
        ).scalar_one()
        == 1
    )
    later = at + timedelta(days=1)
    _MOVE.execute(conn, {"ref": 3, "new_at": later})
    moved = session.execute(
        select(Contact.kind, Contact.at).where(Contact.ref_id == 3).order_by(Contact.kind)
    ).all()
    assert moved == [("invitation", at), ("reminder", later)]


def test_a_broken_constraint_raises_sqlalchemys_integrity_error(session):
    voter = f.citizen(session)
    row = {
        "citizen_id": voter,
        "channel": "pigeon",
        "direction": "inbound",
        "kind": "ballot",
        "ref_id": 1,
        "at": datetime(2026, 3, 2, tzinfo=UTC),
    }
    # the connection is asked for inside the savepoint, as services do: the ORM emits
    # SAVEPOINT when the nested transaction first asks for its connection
    with pytest.raises(IntegrityError), session.begin_nested():
        _ADD.execute(session.connection(), row)
    with pytest.raises(IntegrityError), session.begin_nested():
        _ADD.executemany(
            session.connection(),
            [dict(row, channel="web"), dict(row, citizen_id=voter + 999)],
        )
    kept = select(func.count()).select_from(Contact).where(Contact.kind == "ballot")
    assert session.execute(kept).scalar_one() == 0
