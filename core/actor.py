"""Who is acting: every service call names its actor and re-checks what the actor may do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from core.errors import NotAllowed

ActorKind = Literal["citizen", "staff", "system"]


@dataclass(frozen=True, slots=True)
class Actor:
    """The person or process behind a write.

    Attributes:
        kind: ``citizen``, ``staff`` or ``system`` (flows, importers, the CLI run by an operator).
        id: the citizen's or staff user's row id; ``None`` for ``system``.
        role: for staff, ``organizer``, ``council`` or ``admin``.
        name: a short label kept in the audit log (never contact details).
    """

    kind: ActorKind
    id: int | None = None
    role: str | None = None
    name: str = ""

    @property
    def label(self) -> str:
        """The audit-log label, e.g. ``staff:3:organizer`` or ``system:demo``."""
        if self.kind == "system":
            return f"system:{self.name or 'cli'}"
        return f"{self.kind}:{self.id}" + (f":{self.role}" if self.role else "")

    def require_staff(self, *roles: str) -> None:
        """Raise :class:`NotAllowed` unless the actor is staff with one of ``roles`` (or system).

        Admins may do anything staff may do.
        """
        if self.kind == "system":
            return
        if self.kind != "staff" or (self.role not in roles and self.role != "admin"):
            wanted = " or ".join(roles)
            raise NotAllowed(
                f"only {wanted} staff may do this (actor is {self.label})", field="actor"
            )


SYSTEM = Actor(kind="system", name="cli")
