"""In-memory senders for unit and flow tests: they record messages and can simulate refusals."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from notifications.backends.base import (
    EmailMessageSpec,
    SendResult,
    SmsMessageSpec,
    check_unique_keys,
)

__all__ = ["MemoryEmailSender", "MemorySmsSender", "SimulatedFailure"]

SpecT = TypeVar("SpecT", EmailMessageSpec, SmsMessageSpec)


@dataclass(frozen=True, slots=True)
class SimulatedFailure:
    """How a memory sender refuses a given recipient.

    Attributes:
        error_code: the code to report, e.g. ``"twilio:21610"`` or ``"sendgrid:429"``.
        permanent: whether retrying could help.
        opted_out: the recipient has opted out (implies ``permanent``).
    """

    error_code: str
    permanent: bool = False
    opted_out: bool = False


class _Recorder(Generic[SpecT]):
    """Shared bookkeeping: one accepted copy per idempotency key, simulated refusals."""

    def __init__(self, prefix: str, failures: Mapping[str, SimulatedFailure] | None) -> None:
        self._prefix = prefix
        self._failures = dict(failures or {})
        self._lock = threading.Lock()
        self._ids: dict[str, str] = {}
        self.sent: list[SpecT] = []
        """Accepted messages, in order, each key once."""
        self.attempts: int = 0
        """Calls for single messages, including repeats and refusals."""

    def _deliver(self, spec: SpecT) -> SendResult:
        with self._lock:
            self.attempts += 1
            failure = self._failures.get(spec.to)
            if failure is not None:
                return SendResult.failed(
                    spec.key,
                    failure.error_code,
                    permanent=failure.permanent,
                    opted_out=failure.opted_out,
                )
            if spec.key not in self._ids:
                self._ids[spec.key] = f"{self._prefix}-{len(self._ids) + 1}"
                self.sent.append(spec)
            return SendResult.sent(spec.key, self._ids[spec.key])


class MemoryEmailSender(_Recorder[EmailMessageSpec]):
    """Keeps emails in :attr:`sent`; a repeated key is accepted again but recorded once.

    Args:
        failures: recipients (addresses) to refuse, and how.
    """

    def __init__(self, *, failures: Mapping[str, SimulatedFailure] | None = None) -> None:
        super().__init__("memory-email", failures)

    def send_batch(self, messages: Sequence[EmailMessageSpec]) -> list[SendResult]:
        """Record ``messages``; see :class:`notifications.backends.base.EmailSender`."""
        check_unique_keys(messages)
        return [self._deliver(message) for message in messages]


class MemorySmsSender(_Recorder[SmsMessageSpec]):
    """Keeps SMS in :attr:`sent`; a repeated key is accepted again but recorded once.

    Args:
        failures: recipients (E.164 numbers) to refuse, and how.
    """

    def __init__(self, *, failures: Mapping[str, SimulatedFailure] | None = None) -> None:
        super().__init__("memory-sms", failures)

    def send(self, message: SmsMessageSpec) -> SendResult:
        """Record ``message``; see :class:`notifications.backends.base.SmsSender`."""
        return self._deliver(message)
