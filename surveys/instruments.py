"""Satisfaction instruments as data: scales, scoring rules, sources and bilingual texts.

An *instrument* says what a kind of question measures, on which answer scale, and how
its answers are scored (the arithmetic itself lives in :mod:`surveys.rules`). A
*questionnaire* is an ordered set of questions, each tied to one instrument, with its
text in every supported locale (English ``en`` and Persian ``fa``, DESIGN §10).

Instruments defined here:

- CSAT: 1–5 satisfaction, "don't know" excluded, scored as the top-2-box share.
- NPS: 0–10 likelihood to recommend, % promoters (9–10) − % detractors (0–6)
  (Reichheld 2003).
- CMT drivers: timeliness, knowledge, courtesy, fairness, outcome — the drivers of
  satisfaction with public services measured by the Common Measurements Tool of the
  Institute for Citizen-Centred Service (Canada); each 1–5 item rescaled to 0–100.
- ACSI-style index: three 1–10 items, equal weights, rescaled to 0–100. **Unofficial**:
  it borrows the ACSI questions (Fornell et al. 1996), not the licensed ACSI model.
- Free text: an open answer, never scored.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "ACSI_INDEX",
    "AGREEMENT_SCALE",
    "CMT_DRIVERS",
    "CSAT",
    "FREE_TEXT",
    "INSTRUMENTS",
    "LIKELIHOOD_SCALE",
    "NPS",
    "SATISFACTION_PULSE",
    "SATISFACTION_SCALE",
    "TEN_POINT_SCALE",
    "Driver",
    "Instrument",
    "InstrumentKind",
    "Question",
    "Questionnaire",
    "Scale",
    "Text",
    "cmt_driver",
]

LOCALES: tuple[str, ...] = ("en", "fa")
"""Locales every question text must carry (DESIGN §10)."""


class InstrumentKind(StrEnum):
    """The scoring family an instrument belongs to."""

    CSAT = "csat"
    NPS = "nps"
    CMT_DRIVER = "cmt_driver"
    ACSI = "acsi"
    FREE_TEXT = "free_text"


class Driver(StrEnum):
    """The five drivers of satisfaction with public services in the CMT.

    Source: Institute for Citizen-Centred Service (ICCS), *Common Measurements Tool*
    (CMT), the question bank built on the Canadian *Citizens First* surveys, which found
    these five service attributes drive citizens' satisfaction.
    """

    TIMELINESS = "timeliness"
    KNOWLEDGE = "knowledge"
    COURTESY = "courtesy"
    FAIRNESS = "fairness"
    OUTCOME = "outcome"


@dataclass(frozen=True)
class Text:
    """One piece of user-facing text in every supported locale.

    Attributes:
        en: English text.
        fa: Persian text (rendered right-to-left by the app).
    """

    en: str
    fa: str

    def get(self, locale: str) -> str:
        """Return the text for ``locale`` (``"en"`` or ``"fa"``, region suffix ignored).

        Falls back to English for a locale the text does not carry.
        """
        return self.fa if locale.split("-")[0].split("_")[0].lower() == "fa" else self.en


@dataclass(frozen=True)
class Scale:
    """A closed numeric answer scale.

    Attributes:
        minimum: lowest valid answer (inclusive).
        maximum: highest valid answer (inclusive).
        labels: the label shown for each point, as ``(value, text)`` pairs; may be only
            the end points.
        dont_know: the label of the "don't know" option, or None when the scale has none.
            A "don't know" answer is stored as missing and excluded from every score.
    """

    minimum: int
    maximum: int
    labels: tuple[tuple[int, Text], ...] = ()
    dont_know: Text | None = None

    def __post_init__(self) -> None:
        if self.minimum >= self.maximum:
            raise ValueError(f"scale minimum {self.minimum} must be below {self.maximum}")
        for value, _ in self.labels:
            if not self.minimum <= value <= self.maximum:
                raise ValueError(f"label value {value} outside {self.minimum}–{self.maximum}")

    @property
    def points(self) -> int:
        """Number of points on the scale (e.g. 5 for 1–5, 11 for 0–10)."""
        return self.maximum - self.minimum + 1


@dataclass(frozen=True)
class Instrument:
    """What a kind of question measures and how it is scored.

    Attributes:
        key: stable identifier (``"csat"``, ``"cmt_timeliness"`` …).
        kind: the scoring family; selects the function in :mod:`surveys.rules`.
        name: human-readable name.
        scale: the answer scale, or None for free text.
        scoring: the scoring rule in one line, with its range and unit.
        source: where the instrument or its scoring comes from.
        driver: the CMT driver, for ``kind == CMT_DRIVER`` only.
        items: number of items the instrument combines (3 for the ACSI-style index).
        official: False when the instrument only imitates a licensed or standard model.
    """

    key: str
    kind: InstrumentKind
    name: str
    scale: Scale | None
    scoring: str
    source: str
    driver: Driver | None = None
    items: int = 1
    official: bool = True

    def __post_init__(self) -> None:
        if (self.kind is InstrumentKind.CMT_DRIVER) != (self.driver is not None):
            raise ValueError(f"{self.key}: a driver is required exactly for CMT drivers")
        if (self.kind is InstrumentKind.FREE_TEXT) != (self.scale is None):
            raise ValueError(f"{self.key}: only free text has no scale")


def _t(en: str, fa: str) -> Text:
    return Text(en=en, fa=fa)


_DONT_KNOW = _t("Don't know", "نمی‌دانم")

SATISFACTION_SCALE = Scale(
    minimum=1,
    maximum=5,
    labels=(
        (1, _t("Very dissatisfied", "بسیار ناراضی")),
        (2, _t("Dissatisfied", "ناراضی")),
        (3, _t("Neither satisfied nor dissatisfied", "نه راضی نه ناراضی")),
        (4, _t("Satisfied", "راضی")),
        (5, _t("Very satisfied", "بسیار راضی")),
    ),
    dont_know=_DONT_KNOW,
)
"""1–5 satisfaction, 5 = very satisfied, with a "don't know" option."""

AGREEMENT_SCALE = Scale(
    minimum=1,
    maximum=5,
    labels=(
        (1, _t("Strongly disagree", "کاملاً مخالفم")),
        (2, _t("Disagree", "مخالفم")),
        (3, _t("Neither agree nor disagree", "نه موافقم نه مخالف")),
        (4, _t("Agree", "موافقم")),
        (5, _t("Strongly agree", "کاملاً موافقم")),
    ),
    dont_know=_DONT_KNOW,
)
"""1–5 agreement, 5 = strongly agree, with a "don't know" option (CMT driver items)."""

LIKELIHOOD_SCALE = Scale(
    minimum=0,
    maximum=10,
    labels=(
        (0, _t("Not at all likely", "اصلاً محتمل نیست")),
        (10, _t("Extremely likely", "بسیار محتمل")),
    ),
)
"""0–10 likelihood to recommend (NPS); only the end points are labelled (Reichheld 2003)."""

TEN_POINT_SCALE = Scale(minimum=1, maximum=10)
"""1–10 scale of the ACSI questions; end-point labels depend on the item."""

CSAT = Instrument(
    key="csat",
    kind=InstrumentKind.CSAT,
    name="Customer satisfaction (CSAT)",
    scale=SATISFACTION_SCALE,
    scoring=(
        "share of valid 1–5 answers that are 4 or 5 (top-2-box), in [0, 1]; "
        "don't know and missing excluded from numerator and denominator"
    ),
    source="Top-2-box convention of satisfaction research, as specified in DESIGN §8",
)

NPS = Instrument(
    key="nps",
    kind=InstrumentKind.NPS,
    name="Net Promoter Score (NPS)",
    scale=LIKELIHOOD_SCALE,
    scoring="% promoters (9–10) − % detractors (0–6) of valid 0–10 answers, in [−100, 100]",
    source=(
        "Reichheld, F. F. (2003). The One Number You Need to Grow. "
        "Harvard Business Review 81(12), 46–54"
    ),
)

_CMT_SOURCE = (
    "Institute for Citizen-Centred Service (Canada), Common Measurements Tool (CMT): "
    "drivers of satisfaction from the Citizens First surveys; 0–100 rescaling "
    "(x − 1) / 4 · 100 is CivicFlow's, so drivers compare on one range"
)

_DRIVER_NAMES: dict[Driver, str] = {
    Driver.TIMELINESS: "Timeliness",
    Driver.KNOWLEDGE: "Knowledge and competence",
    Driver.COURTESY: "Courtesy",
    Driver.FAIRNESS: "Fairness",
    Driver.OUTCOME: "Outcome",
}

CMT_DRIVERS: dict[Driver, Instrument] = {
    driver: Instrument(
        key=f"cmt_{driver.value}",
        kind=InstrumentKind.CMT_DRIVER,
        name=f"CMT driver: {name}",
        scale=AGREEMENT_SCALE,
        scoring="mean of (x − 1) / 4 · 100 over valid 1–5 answers, in [0, 100]",
        source=_CMT_SOURCE,
        driver=driver,
    )
    for driver, name in _DRIVER_NAMES.items()
}
"""One instrument per CMT driver, keyed by driver."""


def cmt_driver(driver: Driver | str) -> Instrument:
    """Return the CMT instrument for ``driver`` (a :class:`Driver` or its value)."""
    return CMT_DRIVERS[Driver(driver)]


ACSI_INDEX = Instrument(
    key="acsi_unofficial",
    kind=InstrumentKind.ACSI,
    name="ACSI-style satisfaction index (unofficial)",
    scale=TEN_POINT_SCALE,
    scoring=(
        "per respondent with all three 1–10 items valid: mean of (x − 1) / 9 · 100 with "
        "equal weights; index = mean over those respondents, in [0, 100]"
    ),
    source=(
        "Questions after Fornell, C. et al. (1996). The American Customer Satisfaction "
        "Index: Nature, Purpose, and Findings. Journal of Marketing 60(4), 7–18. "
        "Unofficial: equal weights, not the licensed ACSI model's estimated weights"
    ),
    items=3,
    official=False,
)

FREE_TEXT = Instrument(
    key="free_text",
    kind=InstrumentKind.FREE_TEXT,
    name="Free text",
    scale=None,
    scoring="not scored; personal data — never logged",
    source="—",
)

INSTRUMENTS: dict[str, Instrument] = {
    i.key: i for i in (CSAT, NPS, *CMT_DRIVERS.values(), ACSI_INDEX, FREE_TEXT)
}
"""Every instrument, keyed by :attr:`Instrument.key`."""


@dataclass(frozen=True)
class Question:
    """One question of a questionnaire.

    Attributes:
        key: stable key of the answer column (``"csat"``, ``"driver_fairness"`` …).
        instrument: what the question measures and how it is scored.
        text: the question as shown, in every locale.
        required: whether the app must get an answer before submitting.
    """

    key: str
    instrument: Instrument
    text: Text
    required: bool = False


@dataclass(frozen=True)
class Questionnaire:
    """An ordered set of questions shown together.

    Attributes:
        key: stable identifier.
        title: heading shown above the questions.
        questions: the questions, in display order; keys are unique.
    """

    key: str
    title: Text
    questions: tuple[Question, ...]

    def __post_init__(self) -> None:
        keys = [q.key for q in self.questions]
        if len(set(keys)) != len(keys):
            raise ValueError(f"{self.key}: duplicate question keys in {keys}")

    def question(self, key: str) -> Question:
        """Return the question with ``key``.

        Raises:
            KeyError: no question has that key.
        """
        for q in self.questions:
            if q.key == key:
                return q
        raise KeyError(key)


# The post-cycle pulse asks about the consultation itself. Of the five CMT drivers it
# keeps fairness and outcome: a consultation is judged on whether the process treated
# people even-handedly and whether their input led somewhere; timeliness, knowledge and
# courtesy concern a staff service contact that most participants never had.
SATISFACTION_PULSE = Questionnaire(
    key="satisfaction_pulse",
    title=_t(
        "How did this consultation go for you?",
        "این مشورت‌خواهی برای شما چطور بود؟",
    ),
    questions=(
        Question(
            key="csat",
            instrument=CSAT,
            text=_t(
                "Overall, how satisfied are you with this consultation?",
                "به طور کلی، چقدر از این مشورت‌خواهی راضی هستید؟",
            ),
            required=True,
        ),
        Question(
            key="nps",
            instrument=NPS,
            text=_t(
                "How likely are you to recommend taking part in a consultation like this "
                "to a friend or neighbour? (0 = not at all likely, 10 = extremely likely)",
                "چقدر احتمال دارد شرکت در مشورت‌خواهی‌ای مانند این را به یک دوست یا همسایه "
                "توصیه کنید؟ (۰ = اصلاً محتمل نیست، ۱۰ = بسیار محتمل)",
            ),
        ),
        Question(
            key="driver_fairness",
            instrument=CMT_DRIVERS[Driver.FAIRNESS],
            text=_t(
                "I was treated fairly during this consultation.",
                "در این مشورت‌خواهی با من منصفانه رفتار شد.",
            ),
        ),
        Question(
            key="driver_outcome",
            instrument=CMT_DRIVERS[Driver.OUTCOME],
            text=_t(
                "In the end, I know what will happen with my input.",
                "در پایان، می‌دانم با نظر من چه خواهد شد.",
            ),
        ),
        Question(
            key="comment",
            instrument=FREE_TEXT,
            text=_t(
                "What one thing should we do better next time? "
                "(Please do not include names or contact details.)",
                "دفعهٔ بعد چه کاری را باید بهتر انجام دهیم؟ (لطفاً نام یا اطلاعات تماس ننویسید.)",
            ),
        ),
    ),
)
"""The short survey sent after each consultation closes (DESIGN §1, §7)."""
