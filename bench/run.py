"""Run CivicFlow's benchmark cases and their baselines; print one table, write it as JSON.

Run: ``civicflow bench`` / ``make bench`` / ``.venv/bin/python bench/run.py`` with
``--scale small|city`` (default small, about a minute plus data generation),
``--db sqlite|postgresql`` (PostgreSQL: ``CIVICFLOW_TEST_PG_URL``, default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``; a new schema, dropped afterwards),
``--out bench-results.json``, ``--repeats N`` (at least 3), ``--cases a,b`` (default: every
case; the slow ``demo`` case only at ``city`` or when named).

Each case is built on one new database holding synthetic data (:mod:`bench.data`); its
CivicFlow side and its baseline run alternately, ``repeats`` times each, so both see the
same data and the same load. The table gives the median seconds of each side and their
ratio (CivicFlow / baseline: below 1 is faster than the baseline). Targets are those of the
issue, meant for ``--scale city``; ``met`` says whether this run reached them. The exit code
is 1 if a case failed or produced a wrong result (a missed target is not a failure).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import shutil
import signal
import statistics
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.cases import CASES
from bench.harness import NOW, PG_URL, SCALES, Bench, Case, Scale, Trial, database
from core import clock
from core.db import make_engine
from models.migrate import upgrade

MIN_REPEATS = 3


@dataclass
class Result:
    """One row of the table (and of the JSON's ``cases``)."""

    case: str
    what: str
    against: str | None
    n: int = 0
    unit: str = ""
    median_s: float | None = None
    baseline_median_s: float | None = None
    ratio: float | None = None
    target: str | None = None
    met: bool | None = None
    ok: bool = True
    runs_s: list[float] = field(default_factory=list)
    baseline_runs_s: list[float] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    skipped: str | None = None


def measure(trial: Trial, repeats: int, *, warmup: bool = False) -> tuple[list[float], list[float]]:
    """Run ``trial``'s two sides alternately ``repeats`` times (after one untimed round if
    ``warmup``); return the seconds of each side's runs."""
    if warmup:
        trial.ours()
        trial.baseline()
    ours: list[float] = []
    base: list[float] = []
    for _ in range(repeats):
        ours.append(trial.ours())
        seconds = trial.baseline()
        if seconds is not None:
            base.append(seconds)
    return ours, base


def profile(trial: Trial, path: Path) -> None:
    """Run CivicFlow's side once more under pyinstrument (not a dependency: ``pip install
    pyinstrument``) and write the call tree to ``path``. Only the main thread is sampled."""
    from pyinstrument import Profiler

    measured = copy.deepcopy(trial.facts)  # the profiled run's figures are not results
    profiler = Profiler(interval=0.002)
    profiler.start()
    try:
        trial.ours()
    finally:
        profiler.stop()
        trial.facts.clear()
        trial.facts.update(measured)
    path.write_text(profiler.output_text(unicode=False, color=False))
    print(f"  profile: {path}", flush=True)


def run_case(case: Case, bench: Bench, profile_to: Path | None = None) -> Result:
    """Build the case's trial, measure it and summarise; an exception becomes ``error``.
    With ``profile_to``, one more untimed run of CivicFlow's side is profiled there."""
    res = Result(
        case.name, case.what, case.against, target=case.target.text if case.target else None
    )
    trial: Trial | None = None
    try:
        trial = case.make(bench)
        # the tiny scale checks that everything runs: no warm-up round there
        warmup = case.warmup and bench.scale.name != "tiny"
        ours, base = measure(trial, bench.repeats, warmup=warmup)
        res.n, res.unit = trial.n, trial.unit
        res.runs_s = [round(t, 4) for t in ours]
        res.baseline_runs_s = [round(t, 4) for t in base]
        res.median_s = statistics.median(ours)
        if base:
            res.baseline_median_s = statistics.median(base)
            res.ratio = res.median_s / res.baseline_median_s
        res.ok = trial.ok
        if case.target is not None:
            res.met = case.target.met(res.median_s, res.ratio) and res.ok
        if profile_to is not None:
            profile(trial, profile_to)
    except Exception as exc:
        traceback.print_exc()
        res.error = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        res.ok = False
    finally:
        if trial is not None:
            res.facts = trial.facts
            try:
                trial.close()
            except Exception:
                traceback.print_exc()
        clock.set_clock(clock.FrozenClock(NOW))
    return res


def _num(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "—"
    return f"{value:.{digits}f}" if value < 100 else f"{value:.0f}"


def _ratio(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.2f}×" if value >= 0.1 else f"{value:.4f}×"


def table(results: list[Result]) -> str:
    """The results as a fixed-width text table (one line per case), with notes below."""
    head = (
        f"{'case':<15} {'n':>18} {'median s':>9} {'baseline s':>10} {'ratio':>9}  {'met':<4} target"
    )
    lines = [head, "-" * len(head)]
    notes = []
    for r in results:
        met = "—" if r.met is None else ("yes" if r.met else "NO")
        if r.error or r.skipped:
            met = "skip" if r.skipped else "ERR"
        n = f"{r.n:,} {r.unit}" if r.n else ""
        lines.append(
            f"{r.case:<15} {n:>18} {_num(r.median_s):>9} {_num(r.baseline_median_s):>10} "
            f"{_ratio(r.ratio):>9}  {met:<4} {r.target or ''}"
        )
        note = r.error or r.skipped or _note(r)
        if note:
            notes.append(f"  {r.case}: {note}")
    return "\n".join([*lines, *(["notes:", *notes] if notes else [])])


def _note(r: Result) -> str:
    f = r.facts
    parts = []
    if r.case == "mes":
        parts.append(
            f"{f.get('file')}, {1 / r.ratio:.0f}× faster, same outcome: {f.get('same_outcome')}"
            if r.ratio
            else ""
        )
    if r.case == "cast":
        parts.append(
            f"ballots/s {f.get('throughput')} vs raw {f.get('baseline_throughput')}, "
            f"duplicates {f.get('duplicates')}, errors {f.get('errors')}; the same rows as "
            f"plain SQL {f.get('same_rows_raw_s')} s; audit events sealed afterwards, per s "
            f"{f.get('sealed_per_s')}"
        )
    if r.case == "deliver" and r.median_s:
        parts.append(
            f"{r.n / r.median_s:,.0f} messages/s; in the file backends {f.get('in_backends_s')} s"
        )
    if r.case == "report":
        parts.append(
            f"{f.get('statements')} SELECTs; SQL inside the build {f.get('sql_in_build_s')} s"
        )
    if r.case == "page":
        parts.append(
            f"{f.get('comments'):,} comments; medians: first view "
            f"{f.get('first_view_median_s')} s, rerun without thread "
            f"{f.get('rerun_median_s')} s; SQL in the timed view "
            f"{f.get('sql_median_s')} s ({f.get('statements')} statements)"
        )
    if r.case == "demo":
        parts.append(
            f"Prefect start-up {f.get('prefect_startup_s')} s, share "
            f"{f.get('prefect_share')}; whole process {f.get('process_s')} s"
        )
    if f.get("failed_checks"):
        parts.append(f"FAILED: {f['failed_checks']}")
    return "; ".join(p for p in parts if p)


def _select(names: str | None, scale: str) -> list[tuple[Case, str | None]]:
    """The cases to run, each with a reason if it is skipped."""
    known = {c.name: c for c in CASES}
    if names:
        wanted = [n.strip() for n in names.split(",") if n.strip()]
        unknown = [n for n in wanted if n not in known]
        if unknown:
            raise SystemExit(f"error: --cases: unknown {unknown}; use {', '.join(known)}")
        return [(known[n], None) for n in wanted]
    return [
        (
            c,
            f"slow (minutes per repeat): run with --cases {c.name} or --scale city"
            if c.slow and scale != "city"
            else None,
        )
        for c in CASES
    ]


def with_overrides(scale: Scale, settings: list[str]) -> Scale:
    """``scale`` with ``NAME=VALUE`` overrides (ints, floats and strings as the field is)."""
    kinds = {f.name: type(getattr(scale, f.name)) for f in fields(scale)}
    changes: dict[str, Any] = {}
    for item in settings:
        name, _, value = item.partition("=")
        if name not in kinds or name in ("name", "report_formats"):
            raise SystemExit(f"error: --set: unknown scale parameter {name!r}")
        changes[name] = kinds[name](value.replace("_", "") if kinds[name] is int else value)
    return replace(scale, **changes) if changes else scale


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options (``--scale tiny`` is a hidden scale for the smoke test)."""
    parser = argparse.ArgumentParser(
        prog="civicflow bench", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument(
        "--scale",
        choices=tuple(SCALES),
        default="small",
        metavar="{small,city}",
        help="data size (default small)",
    )
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--out", default="bench-results.json", help="JSON file to write")
    parser.add_argument(
        "--repeats",
        type=int,
        default=MIN_REPEATS,
        help=f"runs of each side (at least {MIN_REPEATS})",
    )
    parser.add_argument(
        "--cases", help=f"comma-separated subset of: {', '.join(c.name for c in CASES)}"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override one parameter of the scale, e.g. --set page_comments=100000",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="after measuring, profile one more run of each case with pyinstrument "
        "(<out>-profile-<case>.txt)",
    )
    parser.add_argument("--pg-url", default=PG_URL, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeats < MIN_REPEATS:
        parser.error(f"--repeats must be at least {MIN_REPEATS}")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the selected cases; print the table; write the JSON; return the exit code."""
    args = parse_args(argv)
    # a terminated run still drops its PostgreSQL schema and scratch folder (finally blocks)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    selected = _select(args.cases, args.scale)
    scale = with_overrides(SCALES[args.scale], args.set)
    started = time.perf_counter()
    load_before = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="cf-bench-"))
    results: list[Result] = []
    data_seconds: dict[str, float] = {}
    print(
        f"CivicFlow bench: scale {scale.name}, {args.db}, {args.repeats} repeats, "
        f"{os.cpu_count()} CPUs, load average {load_before[0]:.1f}",
        flush=True,
    )
    try:
        with database(args.db, tmp, args.pg_url) as url:
            upgrade(url)
            engine = make_engine(url)
            clock.set_clock(clock.FrozenClock(NOW))
            bench = Bench(scale, args.db, url, engine, tmp, args.repeats)
            for case, skip in selected:
                if skip:
                    results.append(
                        Result(
                            case.name,
                            case.what,
                            case.against,
                            skipped=skip,
                            target=case.target.text if case.target else None,
                        )
                    )
                    continue
                print(f"- {case.name}", flush=True)
                out = Path(args.out)
                where = out.with_name(f"{out.stem}-profile-{case.name}.txt")
                results.append(run_case(case, bench, where if args.profile else None))
            if bench._dataset is not None:
                data_seconds = bench._dataset.seconds
            engine.dispose()
    finally:
        clock.set_clock(None)
        shutil.rmtree(tmp, ignore_errors=True)
    total = time.perf_counter() - started
    print()
    print(table(results))
    print(
        f"total {total:.0f} s (data generation {sum(data_seconds.values()):.0f} s); "
        f"load average {load_before[0]:.1f} → {os.getloadavg()[0]:.1f}"
    )
    report = {
        "scale": scale.name,
        "db": args.db,
        "repeats": args.repeats,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "total_seconds": round(total, 1),
        "data_seconds": data_seconds,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
        "scale_parameters": asdict(scale),
        "cases": [asdict(r) for r in results],
    }
    Path(args.out).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}")
    failed = [r.case for r in results if r.error or not r.ok]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
