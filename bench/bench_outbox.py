"""Time the outbox: plan reminders for every citizen, deliver messages with the file backends.

A shortcut to the suite's ``plan_reminders`` and ``deliver`` cases (``bench/cases/outbox.py``)
on their own: ``.venv/bin/python bench/bench_outbox.py [--db postgresql] [--scale city]``
is ``bench/run.py --cases plan_reminders,deliver`` with the same options.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.run import main

if __name__ == "__main__":
    raise SystemExit(main(["--cases", "plan_reminders,deliver", *sys.argv[1:]]))
