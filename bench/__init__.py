"""CivicFlow's benchmark suite: ``civicflow bench`` or ``make bench`` (runner: ``bench/run.py``)."""
