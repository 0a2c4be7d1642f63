"""A token element is processed by the Security header walk whatever other tokens were processed before it:
TokenKeys memoises keys by element, and an lxml proxy's id() is reused once the proxy is freed."""

from __future__ import annotations

import collections
import datetime as dt

from lxml import etree

from wssc import namespaces as ns
from wssc.errors import WsscError
from wssc.security.keys import ContextProtection, StaticKeys
from wssc.security.policy import ProtectionPolicy, Requirements
from wssc.security.protect import protect
from wssc.security.unprotect import Receiver
from wssc.tokens.sct import SecurityContextToken

NOW = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
ENVELOPE = b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><x>1</x></s:Body></s:Envelope>'


def _message() -> bytes:
    """SCT by Identifier (no wsu:Id), two derived keys; the second loses its Id and gets a Length no one can read."""
    sct = SecurityContextToken("urn:uuid:memo", None, None)
    data = protect(ENVELOPE, ContextProtection(sct, b"k" * 32, "identifier"), ProtectionPolicy(), now=NOW).data
    root = etree.fromstring(data)
    dkts = list(root.iter(ns.qn(sct.version.sc, "DerivedKeyToken")))
    assert len(dkts) == 2
    del dkts[1].attrib[ns.WSU_ID]
    dkts[1].find(ns.qn(sct.version.sc, "Length")).text = "x"
    return etree.tostring(root)


def test_every_token_of_the_header_is_processed() -> None:
    data = _message()
    faults = collections.Counter()
    for _ in range(200):
        try:
            Receiver(StaticKeys({"urn:uuid:memo": b"k" * 32}), Requirements()).unprotect(data, now=NOW)
        except WsscError as exc:
            faults[type(exc).__name__] += 1
    assert faults == {"InvalidSecurityToken": 200}
