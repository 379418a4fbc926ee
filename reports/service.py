"""Report services that write: the census counts behind representativeness.

(Report files and their ``report`` row are written by :func:`reports.render.build_report`.)
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from core.actor import Actor
from core.errors import ValidationError
from models import Population
from participation.audit import append_event
from reports.sections import age_band_bounds

__all__ = ["GENDERS", "POPULATION_COLUMNS", "PopulationImport", "import_population_csv"]

POPULATION_COLUMNS = ("district", "age_band", "gender", "count")
"""Header of a census counts file, in this order."""

GENDERS = ("female", "male", "other")
"""Gender values, as on ``citizen.gender``."""

SYSTEM = Actor(kind="system", name="population")


@dataclass(frozen=True, slots=True)
class PopulationImport:
    """What :func:`import_population_csv` stored.

    Attributes:
        rows: population cells written (district × age band × gender).
        total: people counted over all cells.
        replaced: cells the previous population table held (all deleted).
        digest: SHA-256 hex of the file's bytes.
    """

    rows: int
    total: int
    replaced: int
    digest: str


def import_population_csv(
    session: Session, path: str | Path, *, source: str | None = None, actor: Actor = SYSTEM
) -> PopulationImport:
    """Replace the ``population`` table with the census counts of a CSV file.

    The file is UTF-8 (a BOM is tolerated), comma-separated, with exactly the header
    ``district,age_band,gender,count``; ``age_band`` is ``16-24`` (inclusive) or ``65+``,
    ``gender`` is female, male or other, ``count`` a whole number ≥ 0. Each district ×
    age band × gender appears once. The whole file is checked before anything is written.

    Args:
        path: the CSV file.
        source: where the counts come from (kept on each row; default: the file name).
        actor: who imports (an organizer or the system).

    Returns:
        :class:`PopulationImport`.

    Raises:
        ValidationError: unreadable file, wrong header, a bad cell (message names the line
            and column), or a repeated cell.
        NotAllowed: the actor is not an organizer.
    """
    actor.require_staff("organizer")
    file = Path(path)
    try:
        raw = file.read_bytes()
        text = raw.decode("utf-8-sig")
    except OSError as exc:
        raise ValidationError(f"cannot read {file.name} ({exc.strerror})", field="path") from exc
    except UnicodeDecodeError as exc:
        raise ValidationError(f"{file.name} is not UTF-8 ({exc.reason})", field="path") from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != POPULATION_COLUMNS:
        raise ValidationError(
            f"{file.name}: the header must be {','.join(POPULATION_COLUMNS)}", field="header"
        )
    rows: dict[tuple[str, str, str], int] = {}
    for line, cells in enumerate(reader, start=2):
        if not cells:
            continue
        where = f"{file.name}, line {line}"
        if len(cells) != 4:
            raise ValidationError(f"{where}: {len(cells)} fields, expected 4", field="row")
        district, band, gender, count = (c.strip() for c in cells)
        if not district:
            raise ValidationError(f"{where}: empty district", field="district")
        try:
            age_band_bounds(band)
        except ValueError as exc:
            raise ValidationError(f"{where}: {exc}", field="age_band") from None
        if gender not in GENDERS:
            raise ValidationError(
                f"{where}: gender {gender!r} is not one of {', '.join(GENDERS)}", field="gender"
            )
        if not count.isdigit():
            raise ValidationError(
                f"{where}: count {count!r} is not a whole number ≥ 0", field="count"
            )
        key = (district, band, gender)
        if key in rows:
            raise ValidationError(f"{where}: {district}/{band}/{gender} repeats", field="row")
        rows[key] = int(count)
    if not rows:
        raise ValidationError(f"{file.name} has no data rows", field="path")
    replaced = session.execute(delete(Population)).rowcount  # type: ignore[attr-defined]
    label = (source or file.name)[:300]
    session.execute(
        insert(Population),
        [
            {"district": d, "age_band": b, "gender": g, "count": n, "source": label}
            for (d, b, g), n in sorted(rows.items())
        ],
    )
    digest = hashlib.sha256(raw).hexdigest()
    append_event(
        session,
        actor=actor,
        action="population.import",
        subject="population",
        payload={"digest": digest, "rows": len(rows), "source": label},
    )
    return PopulationImport(len(rows), sum(rows.values()), int(replaced or 0), digest)
