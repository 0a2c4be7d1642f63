"""What a :class:`~wssc.conversation.client.ClientSession` reports for each response it verified (the
client half of the sans-IO events; the service's are in :mod:`wssc.conversation.events`)."""

from __future__ import annotations

from dataclasses import dataclass

from wssc.conversation.context import SecurityContext
from wssc.security.result import VerifiedMessage


@dataclass(frozen=True)
class Established:
    """A context was issued to us (or a context we propagated was acknowledged)."""

    context: SecurityContext


@dataclass(frozen=True)
class Renewed:
    """The context has a new key instance (the previous one stays usable for in-flight replies)."""

    context: SecurityContext


@dataclass(frozen=True)
class Amended:
    """The service added the endorsing credential's claims to the context."""

    context: SecurityContext


@dataclass(frozen=True)
class Cancelled:
    """The service confirmed RequestedTokenCancelled; the session holds no context any more."""

    identifier: str


@dataclass(frozen=True)
class Validated:
    """The service's wst:Status for the context (False also when the service no longer knows it)."""

    valid: bool
    reason: str | None


@dataclass(frozen=True)
class Response:
    """A verified application response."""

    message: VerifiedMessage


Event = Established | Renewed | Amended | Cancelled | Validated | Response
