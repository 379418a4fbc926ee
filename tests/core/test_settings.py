from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from core.settings import Settings


def _all_env_names() -> set[str]:
    names = set()
    for group, field in Settings.model_fields.items():
        model = field.default_factory()  # type: ignore[misc]
        assert isinstance(model, BaseModel)
        for name in type(model).model_fields:
            names.add(f"CIVICFLOW_{group.upper()}__{name.upper()}")
    return names


def test_env_example_lists_every_setting():
    text = (Path(__file__).resolve().parents[2] / ".env.example").read_text()
    listed = set(re.findall(r"^(CIVICFLOW_[A-Z_]+)=", text, flags=re.M))
    assert listed == _all_env_names()


def test_nested_env_variables_are_read(monkeypatch):
    monkeypatch.setenv("CIVICFLOW_DB__URL", "sqlite:///elsewhere.db")
    monkeypatch.setenv("CIVICFLOW_SMS__MAX_SEGMENTS", "2")
    s = Settings()
    assert s.db.url == "sqlite:///elsewhere.db"
    assert s.sms.max_segments == 2
    assert "change-me" not in repr(s.app.secret_key)
