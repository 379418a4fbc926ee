"""Mapping files: the shipped mappings load, and broken ones are refused with a field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from core.errors import ValidationError
from surveys.instruments import Driver, InstrumentKind
from surveys.mapping import (
    MAPPINGS_DIR,
    Decoded,
    SurveyMapping,
    builtin_mapping,
    load_mapping,
)

BASE: dict[str, Any] = {
    "name": "t",
    "encoding": "utf-8",
    "respondent_id_column": "id",
    "channel": {"constant": "web"},
    "district": {"column": "d"},
    "scales": {
        "agree": {
            "minimum": 1,
            "maximum": 5,
            "case_insensitive": True,
            "values": {"Disagree": 2, "Agree": 4},
            "dont_know": ["DK"],
            "missing": ["", "NA"],
        }
    },
    "questions": [{"key": "q", "column": "c", "instrument": "csat", "scale": "agree"}],
}


def mapping_with(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data.update(changes)
    return data


def test_both_shipped_mappings_load() -> None:
    names = sorted(p.stem for p in MAPPINGS_DIR.glob("*.toml"))
    assert names == ["kansas_city_fy2022", "toronto_public_engagement"]
    kansas = builtin_mapping("kansas_city_fy2022")
    toronto = builtin_mapping("toronto_public_engagement")
    assert kansas.encoding == "utf-8"
    assert toronto.encoding == "cp1252"
    assert toronto.channel.constant == "web"
    assert kansas.channel.column == "method"


def test_shipped_mappings_cover_csat_and_drivers() -> None:
    for name in ("kansas_city_fy2022", "toronto_public_engagement"):
        m = builtin_mapping(name)
        kinds = {q.instrument for q in m.questions}
        assert InstrumentKind.CSAT in kinds
        drivers = {q.driver for q in m.questions if q.driver is not None}
        # No item in either file rates staff knowledge (documented in the TOML).
        assert drivers == set(Driver) - {Driver.KNOWLEDGE}
        # Neither file has a 0-10 item, so neither maps NPS.
        assert InstrumentKind.NPS not in kinds


def test_case_insensitive_labels_match_both_capitalisations() -> None:
    scale = builtin_mapping("toronto_public_engagement").scales["agreement"]
    assert scale.decode("Strongly agree") == 5
    assert scale.decode("Strongly Agree") == 5
    assert scale.decode(" Neither Agree nor  Disagree ") == 3
    assert scale.decode("") is Decoded.MISSING
    with pytest.raises(KeyError):
        scale.decode("Somewhat agree")


def test_kansas_codes_decode_with_dont_know_and_missing() -> None:
    scale = builtin_mapping("kansas_city_fy2022").scales["satisfaction"]
    assert scale.decode("4") == 4
    assert scale.decode("9") is Decoded.DONT_KNOW
    assert scale.decode("NA") is Decoded.MISSING
    with pytest.raises(KeyError):
        scale.decode("99")


def test_channel_table_maps_mail_to_letter() -> None:
    channel = builtin_mapping("kansas_city_fy2022").channel
    assert channel.decode("Mail") == "letter"
    assert channel.decode("web") == "web"


def one(instrument: str, scale: str | None = "agree", key: str = "q") -> dict[str, Any]:
    item: dict[str, Any] = {"key": key, "column": f"col_{key}", "instrument": instrument}
    if scale is not None:
        item["scale"] = scale
    return item


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"questions": [one("cmt_driver")]}, "driver"),
        ({"questions": [one("nps")]}, "0–10"),
        ({"questions": [one("csat", scale="nope")]}, "unknown scale"),
        ({"questions": [one("free_text")]}, "free text"),
        ({"questions": [one("csat", scale=None)]}, "free text"),
        ({"questions": [one("csat"), one("csat")]}, "duplicate"),
        ({"channel": {"constant": "pigeon"}}, "unknown channel"),
        ({"channel": {"column": "m"}}, "values"),
        ({"encoding": "klingon-8"}, "unknown encoding"),
        ({"district": {"column": "d", "pattern": "("}}, "invalid pattern"),
        (
            {
                "scales": {
                    "agree": {
                        "minimum": 1,
                        "maximum": 5,
                        "case_insensitive": True,
                        "values": {"Agree": 4, "AGREE": 5},
                    }
                }
            },
            "collide",
        ),
        ({"scales": {"agree": {"minimum": 1, "maximum": 5, "values": {"x": 7}}}}, "outside"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_invalid_mappings_are_refused(
    tmp_path: Path, change: dict[str, Any], fragment: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(_to_toml(mapping_with(**change)), encoding="utf-8")
    with pytest.raises(ValidationError) as err:
        load_mapping(path)
    assert err.value.field == str(path)
    assert fragment in err.value.message


def test_not_toml_and_missing_file_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("name = ", encoding="utf-8")
    with pytest.raises(ValidationError, match="TOML"):
        load_mapping(path)
    with pytest.raises(ValidationError, match="not found"):
        load_mapping(tmp_path / "absent.toml")
    with pytest.raises(ValidationError, match="known"):
        builtin_mapping("absent")


def test_minimal_mapping_lists_required_columns() -> None:
    m = SurveyMapping.model_validate(BASE)
    assert m.required_columns() == ("id", "d", "c")


def _to_toml(data: dict[str, Any]) -> str:
    """Tiny TOML writer for the nested dicts used here (tomllib only reads)."""
    lines: list[str] = []
    tables: list[tuple[str, dict[str, Any]]] = []
    arrays: list[tuple[str, list[dict[str, Any]]]] = []

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{value(k)} = {value(x)}" for k, x in v.items()) + " }"
        return repr(v)

    for key, v in data.items():
        if isinstance(v, dict):
            tables.append((key, v))
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            arrays.append((key, v))
        else:
            lines.append(f"{key} = {value(v)}")
    for key, table in tables:
        lines.append(f"[{key}]")
        lines.extend(f"{value(k)} = {value(v)}" for k, v in table.items())
    for key, items in arrays:
        for item in items:
            lines.append(f"[[{key}]]")
            lines.extend(f"{k} = {value(v)}" for k, v in item.items())
    return "\n".join(lines) + "\n"
