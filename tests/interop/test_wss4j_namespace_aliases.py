"""wssc <-> Apache WSS4J 1.6 with encrypted content where one namespace has two prefixes.

WCF writes an AppliesTo's EndpointReference in the default namespace under an Envelope that binds WS-Addressing
to ``a``; Metro declares a prefix of its own (``ns3``) for a namespace the Envelope binds already.  Encrypted, such
content decrypted into wssc's lxml tree used to change prefix and fail its digest (lxml re-points moved nodes by
URI).  Here WSS4J (Santuario's DOM keeps every prefix) protects such envelopes for wssc, and checks wssc's.
"""

from __future__ import annotations

import os
from contextlib import nullcontext

import pytest
from lxml import etree
from wss4j import WSS4J

from wssc.security import compiled
from wssc.security.keys import ContextProtection, StaticKeys
from wssc.security.policy import ProtectionPolicy, Requirements
from wssc.security.protect import protect
from wssc.security.unprotect import Receiver
from wssc.tokens.sct import SecurityContextToken
from wssc.versions import by_name

WSA = "http://www.w3.org/2005/08/addressing"
WSP = "http://schemas.xmlsoap.org/ws/2004/09/policy"
CONTEXT = "urn:uuid:3c5e9a71-8d2b-4f06-a1e4-7b9c0d2e6f18"
HEAD = (
    '<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing">'
    "<soap:Header/>"
)
ENVELOPES = {
    "wcf-applies-to": HEAD
    + f'<soap:Body><wsp:AppliesTo xmlns:wsp="{WSP}"><EndpointReference xmlns="{WSA}">'
    + "<Address>http://localhost/op</Address></EndpointReference></wsp:AppliesTo></soap:Body></soap:Envelope>",
    "metro-second-prefix": HEAD
    + f'<soap:Body><ns2:op xmlns:ns2="urn:example" xmlns:ns3="{WSA}"><ns3:EndpointReference>'
    + "<ns3:Address>http://localhost/op</ns3:Address></ns3:EndpointReference></ns2:op></soap:Body></soap:Envelope>",
}
#: where the EndpointReference is, and the prefix it was written with
WRITTEN = {"wcf-applies-to": ("wsp:AppliesTo/wsa:EndpointReference", None), "metro-second-prefix": (
    "ns2:op/wsa:EndpointReference", "ns3")}  # fmt: skip
NAMESPACES = {"wsa": WSA, "wsp": WSP, "ns2": "urn:example"}


@pytest.mark.parametrize("path", ["python", "core"])
@pytest.mark.parametrize("encrypt_signature", [True, False])
@pytest.mark.parametrize("version", ["1.3", "2005-02"])
@pytest.mark.parametrize("case", ENVELOPES)
def test_wss4j_to_wssc(wss4j: WSS4J, case: str, version: str, encrypt_signature: bool, path: str) -> None:
    if path == "core" and compiled.core() is None:
        pytest.skip("the compiled core is not installed")
    key = os.urandom(32)
    message = wss4j.protect(
        ENVELOPES[case].encode(),
        key=key,
        context_id=CONTEXT,
        sc_version=version,  # type: ignore[arg-type]
        mode="both",
        encrypt_signature=encrypt_signature,
    )
    requirements = Requirements(
        signed_body=True, encrypted_body=True, signed_addressing_headers=False, context_identifier=CONTEXT
    )
    with compiled.forced_python() if path == "python" else nullcontext():
        verified = Receiver(StaticKeys({CONTEXT: key}), requirements).unprotect(message)
    assert verified.is_signed(verified.body) and verified.is_encrypted(verified.body)
    where, prefix = WRITTEN[case]
    (reference,) = verified.body.xpath(where, namespaces=NAMESPACES)
    assert reference.prefix == prefix
    assert reference.findtext(f"{{{WSA}}}Address") == "http://localhost/op"


@pytest.mark.parametrize("version", ["1.3", "2005-02"])
@pytest.mark.parametrize("case", ENVELOPES)
def test_wssc_to_wss4j(wss4j: WSS4J, case: str, version: str) -> None:
    key = os.urandom(32)
    sct = SecurityContextToken(CONTEXT, wsu_id="SCT-1", version=by_name(version))
    message = protect(ENVELOPES[case].encode(), ContextProtection(sct, key), ProtectionPolicy(), version=sct.version)
    result = wss4j.unprotect(message.data, key=key, context_id=CONTEXT, sc_version=version, require="both")  # type: ignore[arg-type]
    assert result["ok"], result["error"]
    body = etree.fromstring(result["body"].encode())
    where, prefix = WRITTEN[case]
    (reference,) = body.xpath(where, namespaces=NAMESPACES)
    assert reference.prefix == prefix
