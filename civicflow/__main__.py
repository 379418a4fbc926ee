"""``python -m civicflow``."""

from civicflow.cli import entrypoint

entrypoint()
