"""A security context as both parties hold it (WS-SC 1.3 section 3): Identifier, key instances, lifetime, claims.

Renewal (section 6) keeps the Identifier and replaces the key under a new Instance; the previous instance
stays usable for a rollover window (WCF ``keyRolloverInterval``, 5 minutes) so that messages already in
flight still verify.  Amend (section 5) adds claims.  Cancel (section 7) ends the context.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Final

from wssc.tokens.sct import SecurityContextToken, new_identifier
from wssc.versions import SC_1_3, SCVersion

#: WCF ``LocalServiceSecuritySettings.SessionKeyRolloverInterval``: 5 minutes.
KEY_ROLLOVER_WINDOW: Final = timedelta(minutes=5)
#: WCF ``LocalServiceSecuritySettings.IssuedCookieLifetime`` / ``SessionKeyRenewalInterval``: 15 hours.
CONTEXT_LIFETIME: Final = timedelta(hours=15)
#: WCF ``LocalClientSecuritySettings.SessionKeyRenewalInterval``: the client renews after 10 hours.
CLIENT_RENEWAL_INTERVAL: Final = timedelta(hours=10)
#: Claims one context may carry (bootstrap claims plus those Amend added).  WCF has no Amend, hence no
#: precedent; 64 is far above any real use and keeps a client from growing its context without bound.
MAX_CLAIMS: Final = 64
#: Replaced key instances kept for their rollover window: WCF keeps the one before the current
#: (``SecuritySessionClientSettings`` previous session token); two leave room for a message in flight across
#: two quick renewals, and bound a context (and the sealed record or cookie that carries it) however fast a
#: client renews.
MAX_PREVIOUS_INSTANCES: Final = 2


@dataclass(frozen=True)
class Claim:
    """One claim attached to a context: who authenticated, how, and what was added by Amend."""

    type: str
    value: str
    issuer: str = "self"


@dataclass(frozen=True)
class PreviousKey:
    """A key instance replaced by renewal, still accepted until ``valid_until``."""

    instance: str | None
    key: bytes = field(repr=False)
    valid_until: datetime


@dataclass(frozen=True)
class SecurityContext:
    identifier: str
    key: bytes = field(repr=False)
    created: datetime
    expires: datetime
    version: SCVersion = SC_1_3
    instance: str | None = None
    claims: tuple[Claim, ...] = ()
    previous: tuple[PreviousKey, ...] = ()
    #: the token exactly as issued (a client echoes it verbatim, cookies included)
    token: SecurityContextToken | None = None

    @classmethod
    def new(
        cls,
        key: bytes,
        now: datetime,
        *,
        lifetime: timedelta = CONTEXT_LIFETIME,
        version: SCVersion = SC_1_3,
        claims: tuple[Claim, ...] = (),
        identifier: str | None = None,
    ) -> SecurityContext:
        identifier = identifier or new_identifier()
        token = SecurityContextToken(identifier, None, "uuid-" + secrets.token_hex(8), version)
        return cls(identifier, key, now, now + lifetime, version, None, claims, (), token)

    def sct(self) -> SecurityContextToken:
        """The token to put in messages (a fresh one when none was recorded)."""
        if self.token is not None:
            return self.token
        return SecurityContextToken(self.identifier, self.instance, "uuid-" + secrets.token_hex(8), self.version)

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires

    def key_for(self, instance: str | None, now: datetime) -> bytes | None:
        """The key of ``instance``: the current one, or a previous one inside its rollover window."""
        if instance == self.instance:
            return self.key
        for old in self.previous:
            if old.instance == instance and now <= old.valid_until:
                return old.key
        return None

    def renewed(
        self,
        key: bytes,
        now: datetime,
        *,
        lifetime: timedelta = CONTEXT_LIFETIME,
        rollover: timedelta = KEY_ROLLOVER_WINDOW,
        instance: str | None = None,
    ) -> SecurityContext:
        """The context after Renew (WS-SC 1.3 section 6): same Identifier, new Instance, key and lifetime."""
        instance = instance or "urn:uuid:" + secrets.token_hex(16)
        kept = tuple(p for p in self.previous if now <= p.valid_until)
        previous = (*kept, PreviousKey(self.instance, self.key, now + rollover))[-MAX_PREVIOUS_INSTANCES:]
        token = SecurityContextToken(self.identifier, instance, "uuid-" + secrets.token_hex(8), self.version)
        return replace(
            self, key=key, instance=instance, created=now, expires=now + lifetime, previous=previous, token=token
        )

    def amended(self, claims: tuple[Claim, ...]) -> SecurityContext:
        """The context with ``claims`` added (WS-SC 1.3 section 5); duplicates are not repeated.

        Raises ``ValueError`` beyond :data:`MAX_CLAIMS`."""
        merged = self.claims + tuple(c for c in claims if c not in self.claims)
        if len(merged) > MAX_CLAIMS:
            raise ValueError(f"a context carries at most {MAX_CLAIMS} claims")
        return replace(self, claims=merged)
