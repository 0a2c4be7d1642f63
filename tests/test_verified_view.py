"""What both paths hand the application around the Security header they take out (found by the compiled
core's differential run): the text after it stays, as the rest of the message does."""

from __future__ import annotations

import os
from contextlib import nullcontext

import pytest

from wssc.security import compiled
from wssc.security.keys import ContextProtection, StaticKeys
from wssc.security.protect import protect
from wssc.security.unprotect import Receiver
from wssc.tokens.sct import SecurityContextToken

ENVELOPE = (
    b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header/>'
    b"<s:Body><m:op xmlns:m=\"urn:m\">x</m:op></s:Body></s:Envelope>"
)


@pytest.mark.parametrize("path", ["python", "core"])
def test_the_text_after_the_security_header_stays(path: str) -> None:
    if path == "core" and compiled.core() is None:
        pytest.skip("the compiled core is not installed")
    sct = SecurityContextToken("urn:uuid:view-test", wsu_id="sct-1")
    key = os.urandom(32)
    with compiled.forced_python():
        data = protect(ENVELOPE, ContextProtection(sct, key)).data
    data = data.replace(b"</wsse:Security>", b"</wsse:Security>\n  ", 1)
    with compiled.forced_python() if path == "python" else nullcontext():
        verified = Receiver(StaticKeys({sct.identifier: key})).unprotect(data)
    assert verified.header is not None
    assert verified.header.text == "\n  "
