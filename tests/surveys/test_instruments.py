"""Instruments as data: the satisfaction pulse and the instrument catalogue."""

from __future__ import annotations

import re

import pytest

from surveys.instruments import (
    ACSI_INDEX,
    CMT_DRIVERS,
    CSAT,
    INSTRUMENTS,
    NPS,
    SATISFACTION_PULSE,
    Driver,
    Instrument,
    InstrumentKind,
    Scale,
    Text,
    cmt_driver,
)

PERSIAN = re.compile(r"[\u0600-\u06FF]")


def test_pulse_asks_csat_nps_two_drivers_and_free_text() -> None:
    kinds = [q.instrument.kind for q in SATISFACTION_PULSE.questions]
    assert kinds.count(InstrumentKind.CSAT) == 1
    assert kinds.count(InstrumentKind.NPS) == 1
    assert kinds.count(InstrumentKind.CMT_DRIVER) == 2
    assert kinds.count(InstrumentKind.FREE_TEXT) == 1
    drivers = {q.instrument.driver for q in SATISFACTION_PULSE.questions} - {None}
    assert len(drivers) == 2


def test_pulse_texts_exist_in_english_and_persian() -> None:
    texts = [SATISFACTION_PULSE.title, *(q.text for q in SATISFACTION_PULSE.questions)]
    for text in texts:
        assert text.en.strip()
        assert PERSIAN.search(text.fa), text.en
        assert text.get("fa") == text.fa
        assert text.get("fa-IR") == text.fa
        assert text.get("en") == text.en


def test_scale_labels_are_bilingual() -> None:
    assert CSAT.scale is not None
    for _, label in CSAT.scale.labels:
        assert PERSIAN.search(label.fa)
    assert CSAT.scale.dont_know is not None


def test_instrument_scales_and_sources() -> None:
    assert (CSAT.scale.minimum, CSAT.scale.maximum) == (1, 5)  # type: ignore[union-attr]
    assert (NPS.scale.minimum, NPS.scale.maximum) == (0, 10)  # type: ignore[union-attr]
    assert "Reichheld" in NPS.source
    assert ACSI_INDEX.official is False
    assert ACSI_INDEX.items == 3
    assert "unofficial" in ACSI_INDEX.name.lower()
    assert set(CMT_DRIVERS) == set(Driver)
    assert all("Citizen-Centred Service" in i.source for i in CMT_DRIVERS.values())


def test_catalogue_keys_are_unique_and_lookup_by_driver_works() -> None:
    assert len(INSTRUMENTS) == 4 + len(Driver)
    assert cmt_driver("fairness") is CMT_DRIVERS[Driver.FAIRNESS]
    assert SATISFACTION_PULSE.question("nps").instrument is NPS
    with pytest.raises(KeyError):
        SATISFACTION_PULSE.question("missing")


def test_invalid_definitions_are_refused() -> None:
    with pytest.raises(ValueError, match="below"):
        Scale(minimum=5, maximum=1)
    with pytest.raises(ValueError, match="driver"):
        Instrument(
            key="x",
            kind=InstrumentKind.CMT_DRIVER,
            name="x",
            scale=Scale(1, 5),
            scoring="",
            source="",
        )
    assert Text("a", "ب").get("de") == "a"
