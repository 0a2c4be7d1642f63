"""A key resolver over a :class:`~wssc.conversation.store.ContextStore` (the service side of WS-SC 1.3 section 9).

Unknown or cancelled contexts are ``wsc:BadContextToken``; an expired one is ``wsc:RenewNeeded`` (told only to
a sender who proves its key, :class:`~wssc.security.keys.ExpiredContextKey`); an
Instance replaced by renewal is accepted during the rollover window, then ``wsc:BadContextToken``.
Everything that is not a context (the bootstrap's EncryptedKey, certificates) goes to ``credentials``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from wssc.conversation.store import ContextStore
from wssc.errors import BadContextToken
from wssc.security.keys import ExpiredContextKey, KeyResolver, StaticKeys
from wssc.tokens.reference import SecurityTokenReference


class StoreKeyResolver:
    def __init__(
        self,
        store: ContextStore,
        credentials: KeyResolver | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        *,
        allow_expired: bool = False,
    ) -> None:
        #: accept the keys of an expired (not yet forgotten) context: only for Renew requests
        self.allow_expired = allow_expired
        self.store = store
        self.credentials = credentials or StaticKeys()
        self.clock = clock

    def context_key(self, identifier: str, instance: str | None) -> bytes:
        now = self.clock()
        context = self.store.get(identifier, now)
        if context is None:
            raise BadContextToken(f"unknown or cancelled context {identifier!r}")
        key = context.key_for(instance, now)
        if key is None:
            raise BadContextToken(f"instance {instance!r} of {identifier!r} is not (or no longer) valid")
        if context.is_expired(now) and not self.allow_expired:
            raise ExpiredContextKey(f"context {identifier!r} expired", key)
        return key

    def private_key_for(self, reference: SecurityTokenReference | None) -> rsa.RSAPrivateKey:
        return self.credentials.private_key_for(reference)

    def encrypted_key_by_sha1(self, sha1: bytes) -> bytes:
        return self.credentials.encrypted_key_by_sha1(sha1)

    def certificate_for(self, reference: SecurityTokenReference) -> x509.Certificate:
        return self.credentials.certificate_for(reference)
