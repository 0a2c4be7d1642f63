"""The fault for a message under an unknown context does not depend on chance (found by the core's differential
harness: the Python path disagreed with itself on the same bytes)."""

from __future__ import annotations

import collections
import datetime as dt

from wssc.errors import WsscError
from wssc.security.keys import ContextProtection, StaticKeys
from wssc.security.policy import ProtectionPolicy, Requirements
from wssc.security.protect import protect
from wssc.security.unprotect import Receiver
from wssc.tokens.sct import SecurityContextToken

NOW = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
ENVELOPE = b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>a</s:Body></s:Envelope>'


def test_an_unknown_context_meets_the_same_key_every_time() -> None:
    """Encrypt-only, AES-CBC, one block of Body (the text ``a``): under a fresh random stand-in key per
    message, a try now and then "decrypts" (the padding byte says 16: empty content; 15: one byte that reads
    as text) and the message meets another check (here a required header), which it fails with another fault."""
    sct = SecurityContextToken("urn:uuid:unknown-context")
    policy = ProtectionPolicy(sign=False, include_timestamp=False)
    data = protect(ENVELOPE, ContextProtection(sct, b"k" * 32, "external"), policy, now=NOW).data
    requirements = Requirements(signature=False, timestamp=False, signed_headers=("{urn:x}absent",))
    faults: collections.Counter[str] = collections.Counter()
    for _ in range(3000):
        try:
            Receiver(StaticKeys({}), requirements).unprotect(data, now=NOW)
            faults["accepted"] += 1
        except WsscError as exc:
            faults[type(exc).__name__] += 1
    assert len(faults) == 1, faults
