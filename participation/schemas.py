"""Pydantic input models and frozen result dataclasses of the participation services."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError

from core.clock import ensure_utc
from core.contacts import normalize_email, normalize_phone
from core.errors import ValidationError

Method = Literal["single_choice", "approval", "budget", "ranked", "agree_disagree"]
Channel = Literal["web", "email", "sms", "phone", "letter", "fax", "in_person", "import"]
OFFLINE_CHANNELS = frozenset({"phone", "letter", "fax", "in_person"})
M = TypeVar("M", bound=BaseModel)
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,118}[a-z0-9]$")


def parse_input(model: type[M], data: dict[str, Any]) -> M:
    """Validate ``data`` with ``model``; turn pydantic's error into ours, naming the field.

    Raises:
        ValidationError: the first invalid field, e.g. ``email: 'x' is not a valid email``.
    """
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        if not loc:  # a check across fields says which field it blames: "field: message"
            head, sep, rest = msg.partition(": ")
            loc, msg = (head, rest) if sep and " " not in head else (model.__name__, msg)
        raise ValidationError(msg, field=loc) from None


class CitizenIn(BaseModel):
    """A citizen to register. Contact details are normalised (E.164, lower-case domain)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    display_name: Annotated[str, Field(min_length=1, max_length=200)]
    email: Annotated[str, Field(max_length=320)] | None = None
    phone: Annotated[str, Field(max_length=40)] | None = None
    locale: Literal["en", "fa"] = "en"
    time_zone: str = "UTC"
    preferred_channel: Literal["email", "sms"] = "email"
    district: Annotated[str, Field(max_length=120)] | None = None
    birth_year: Annotated[int, Field(ge=1880, le=2100)] | None = None
    gender: Literal["female", "male", "other"] | None = None
    external_ref: Annotated[str, Field(max_length=200)] | None = None
    phone_region: str | None = None

    @field_validator("display_name", "district")
    @classmethod
    def _plain(cls, v: str | None) -> str | None:
        return check_plain_text(v) if v is not None else None

    @field_validator("email")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        return normalize_email(v).lower() if v else None

    @field_validator("time_zone")
    @classmethod
    def _tz(cls, v: str) -> str:
        return check_time_zone(v)

    @model_validator(mode="after")
    def _phone(self) -> CitizenIn:
        if self.phone:
            # a national number is read in the country of the citizen's language (fa → Iran)
            region = self.phone_region or LOCALE_REGIONS.get(self.locale, "GB")
            self.phone = normalize_phone(self.phone, default_region=region)
        return self


class ContactPreferencesIn(BaseModel):
    """How a citizen wants to hear from us: the channel tried first and the language.

    Attributes:
        preferred_channel: ``email`` or ``sms`` (routing falls back to the other channel
            when the preferred one has no consent or no address).
        locale: ``en`` or ``fa``: the language of messages and of the app.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    preferred_channel: Literal["email", "sms"]
    locale: Literal["en", "fa"]


LOCALE_REGIONS = {"fa": "IR", "en": "GB"}
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
#: format characters that are part of ordinary writing, not disguises: the zero-width
#: non-joiner (Persian "می‌کند", "پارک‌ها"; Unicode §23.2), the zero-width joiner (emoji
#: sequences, Indic scripts) and the left-to-right / right-to-left marks
_WRITING_MARKS = frozenset("\u200c\u200d\u200e\u200f")


def check_plain_text(value: str, *, multiline: bool = False) -> str:
    """Refuse control characters (and bidirectional overrides, which can disguise text).

    The joiners and direction marks of ordinary writing (:data:`_WRITING_MARKS`) are kept.

    Raises:
        ValueError: naming the offending character by code point.
    """
    for ch in value:
        if (ch in "\n\r" and multiline) or (ch == "\t" and multiline):
            continue
        if (not ch.isprintable() and ch != " " and ch not in _WRITING_MARKS) or (
                ch in _BIDI_CONTROLS):
            raise ValueError(f"must not contain the control character U+{ord(ch):04X}")
    return value


def check_time_zone(value: str) -> str:
    """Return ``value`` if it is an IANA time zone name, else raise ``ValueError``."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA time zone such as Europe/Warsaw") from None
    return value


class ReminderPolicy(BaseModel):
    """When reminders go out: offsets after opening, in hours, and the quiet hours.

    Attributes:
        rounds_hours: reminder rounds, hours after ``opens_at`` (e.g. ``[168, 336]``).
        quiet_start / quiet_end: local hours (0–23) during which no message is sent.
        max_messages: per-citizen cap of messages for this consultation.
        holdout_share: share in [0, 1) of eligible citizens kept out of reminders to measure
            reminder uplift.
    """

    model_config = ConfigDict(extra="forbid")
    rounds_hours: list[Annotated[float, Field(gt=0)]] = Field(
        default_factory=lambda: [168.0, 336.0]
    )
    quiet_start: Annotated[int, Field(ge=0, le=23)] = 21
    quiet_end: Annotated[int, Field(ge=0, le=23)] = 8
    max_messages: Annotated[int, Field(ge=1)] = 4
    holdout_share: Annotated[float, Field(ge=0, lt=1)] = 0.0


class MethodParams(BaseModel):
    """Parameters of a voting method (stored as JSON on the consultation)."""

    model_config = ConfigDict(extra="forbid")
    min_choices: Annotated[int, Field(ge=0)] = 0
    max_choices: Annotated[int, Field(ge=1)] | None = None
    vote_type: Literal["approval", "cumulative", "ordinal"] = "approval"
    budget: Annotated[int, Field(gt=0)] | None = None
    rule: str | None = None
    max_points: Annotated[int, Field(ge=1)] | None = None
    min_sum_points: Annotated[int, Field(ge=0)] | None = None
    max_sum_points: Annotated[int, Field(ge=1)] | None = None
    enforce_budget: bool = True
    auto_hide_reports: Annotated[int, Field(ge=1)] = 3
    currency: str | None = None

    @model_validator(mode="after")
    def _bounds(self) -> MethodParams:
        if self.max_choices is not None and self.max_choices < self.min_choices:
            raise ValueError("method_params.max_choices: must not be below min_choices")
        return self


class ConsultationIn(BaseModel):
    """A consultation to create (status ``draft``)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    slug: str
    title: Annotated[str, Field(min_length=3, max_length=300)]
    body: str = ""
    method: Method
    method_params: MethodParams = Field(default_factory=MethodParams)
    eligibility: dict[str, Any] = Field(default_factory=dict)
    reminder_policy: ReminderPolicy = Field(default_factory=ReminderPolicy)
    quorum: Annotated[float, Field(ge=0, le=1)] | None = None
    opens_at: datetime
    closes_at: datetime
    time_zone: str = "UTC"
    district: str | None = None
    topic: str | None = None

    @field_validator("slug")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not SLUG_RE.match(v):
            raise ValueError(
                f"{v!r} must be 3-120 characters of a-z, 0-9 and '-', "
                "not starting or ending with '-'"
            )
        return v

    @field_validator("time_zone")
    @classmethod
    def _tz(cls, v: str) -> str:
        return check_time_zone(v)

    @field_validator("opens_at", "closes_at")
    @classmethod
    def _utc(cls, v: datetime) -> datetime:
        if not 2000 <= v.year <= 2200:
            raise ValueError(f"{v.isoformat()} is outside the years 2000-2200")
        return ensure_utc(v)

    @field_validator("title")
    @classmethod
    def _title(cls, v: str) -> str:
        return check_plain_text(v)

    @field_validator("body")
    @classmethod
    def _body(cls, v: str) -> str:
        return check_plain_text(v, multiline=True)

    @model_validator(mode="after")
    def _window(self) -> ConsultationIn:
        if self.closes_at <= self.opens_at:
            raise ValueError("closes_at: must be after opens_at")
        params = self.method_params
        if self.method == "budget" and params.budget is None:
            raise ValueError("method_params.budget: a budget consultation needs a budget")
        if self.method != "budget":
            for name in BUDGET_ONLY:
                if getattr(params, name) is not None:
                    raise ValueError(f"method_params.{name}: only budget consultations take it")
        unknown = set(self.eligibility) - {"districts", "minimum_age"}
        if unknown:
            raise ValueError(f"eligibility: unknown key(s) {sorted(unknown)}")
        return self


BUDGET_ONLY = ("budget", "max_points", "min_sum_points", "max_sum_points")


class ProposalIn(BaseModel):
    """A proposal to add to a consultation."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    title: Annotated[str, Field(min_length=1, max_length=500)]
    body: str = ""

    @field_validator("title")
    @classmethod
    def _title(cls, v: str) -> str:
        return check_plain_text(v)

    @field_validator("body")
    @classmethod
    def _body(cls, v: str) -> str:
        return check_plain_text(v, multiline=True)

    cost: Annotated[int, Field(ge=0)] | None = None
    category: str | None = None
    external_ref: str | None = None


@dataclass(frozen=True, slots=True)
class CitizenOut:
    """A registered citizen (no contact details: those stay in the database)."""

    id: int
    public_id: str
    display_name: str
    locale: str
    district: str | None


@dataclass(frozen=True, slots=True)
class ContactPreferencesOut:
    """A citizen's contact preferences after a change.

    Attributes:
        citizen_id: the citizen's row id.
        preferred_channel: ``email`` or ``sms``.
        locale: ``en`` or ``fa``.
        changed: False when the citizen already had these preferences (nothing written).
    """

    citizen_id: int
    preferred_channel: str
    locale: str
    changed: bool


@dataclass(frozen=True, slots=True)
class ConsultationOut:
    """A consultation as shown to people and flows."""

    id: int
    slug: str
    title: str
    status: str
    method: str
    opens_at: datetime
    closes_at: datetime
    time_zone: str
    proposals: int
    ballots: int


@dataclass(frozen=True, slots=True)
class BallotReceipt:
    """What a voter gets back: the receipt code and whether an earlier ballot was replaced."""

    ballot_id: int
    receipt_code: str
    revision: int
    replaced: bool
    channel: str


@dataclass(frozen=True, slots=True)
class CommentOut:
    """A stored comment."""

    id: int
    proposal_id: int | None
    parent_id: int | None
    stance: str
    moderation_state: str
    report_count: int
