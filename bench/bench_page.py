"""How long the citizen's consultation page takes with 5,000 proposals and 100,000 comments.

A shortcut to the suite's ``page`` case (``bench/cases/page.py``, data from
``bench/data.py``): an open participatory budget with ``--proposals`` proposals and
``--comments`` comments (a fifth of the top-level ones on the first proposal, 30 % replies),
opened by a signed-in citizen in Streamlit's ``AppTest``. It prints the medians of
``--runs`` views (target: under 300 ms): a rerun with the busiest thread open (the case's
figure), a rerun without it and a new session's first view.

Usage::

    .venv/bin/python bench/bench_page.py [--proposals 5000] [--comments 100000] [--runs 5]
        [--db-url postgresql+psycopg://postgres@127.0.0.1:5432/test] [--out bench-page.json]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.run import main as run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--proposals", type=int, default=5000)
    parser.add_argument("--comments", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--db-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--out", default="bench-page.json")
    args = parser.parse_args(argv)
    db = ["--db", "sqlite"]
    if args.db_url and args.db_url.startswith("postgresql"):
        db = ["--db", "postgresql", "--pg-url", args.db_url]
    return run([
        "--cases", "page", "--scale", "city", *db, "--repeats", str(max(3, args.runs)),
        "--set", "citizens=2000", "--set", f"page_proposals={args.proposals}",
        "--set", f"page_comments={args.comments}", "--out", args.out,
    ])  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
