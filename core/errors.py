"""CivicFlow's error hierarchy.

Every refusal a service makes raises one of these. Each carries the name of the field
(or input) at fault so that the CLI, the app and the flows can show a one-line message
such as ``choices: at most 3 proposals may be chosen (got 5)``.
"""

from __future__ import annotations


class CivicFlowError(Exception):
    """Base class of every error CivicFlow raises on purpose.

    Args:
        message: what went wrong, in one line, for a person.
        field: the name of the field, column or argument at fault, if any.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.message = message
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)


class ValidationError(CivicFlowError):
    """Input that breaks a rule: a bad value, a malformed file, a ballot outside the rules."""


class NotFound(CivicFlowError):
    """The named consultation, proposal, citizen or other row does not exist."""


class NotAllowed(CivicFlowError):
    """The actor may not do this, or the object's state forbids it (e.g. voting when closed)."""


class Conflict(CivicFlowError):
    """The change collides with stored data (a duplicate import, a concurrent update)."""
