"""SQLAlchemy tables only: no queries, no rules. Import a table from here."""

from models.base import Base, UTCDateTime
from models.governance import (
    AuditEvent,
    AuditHead,
    OutboxMessage,
    Population,
    Report,
    SigninCode,
    Survey,
    SurveyAnswer,
    SurveyQuestion,
    SurveyResponse,
)
from models.participation import (
    Ballot,
    BallotChoice,
    Citizen,
    Comment,
    CommentReport,
    Consent,
    Consultation,
    Contact,
    ImportRecord,
    Proposal,
    StaffUser,
)

__all__ = [
    "AuditEvent",
    "AuditHead",
    "Ballot",
    "BallotChoice",
    "Base",
    "Citizen",
    "Comment",
    "CommentReport",
    "Consent",
    "Consultation",
    "Contact",
    "ImportRecord",
    "OutboxMessage",
    "Population",
    "Proposal",
    "Report",
    "SigninCode",
    "StaffUser",
    "Survey",
    "SurveyAnswer",
    "SurveyQuestion",
    "SurveyResponse",
    "UTCDateTime",
]
