"""The lxml view of a message the compiled core accepted (docs/core.md, point 4).

The core writes its output in canonical form (Canonical XML 1.0 of the whole document), so the glue checks
lxml's whole reading of it with one comparison; where that comparison fails, every signed part is checked on
its own against the digest the core verified, and a part lxml reads differently is refused.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Any

import pytest
from lxml import etree

from helpers import CUSTOM_HEADER, CUSTOM_TAG, envelope
from wssc.errors import InvalidSecurity
from wssc.primitives.xml import c14n
from wssc.security import compiled, compiled_unprotect
from wssc.security.keys import ContextProtection, StaticKeys
from wssc.security.policy import ProtectionPolicy, Requirements
from wssc.security.protect import protect
from wssc.security.unprotect import Receiver
from wssc.tokens.sct import SecurityContextToken, new_identifier

core = pytest.importorskip("wssc._core")

#: payloads whose plain serialisation is not canonical: declarations redundant or unused, attributes out of
#: canonical order, an undeclared default namespace, a processing instruction, characters Canonical XML escapes
PAYLOADS = (
    b'<m:op xmlns:m="urn:m" xmlns:z="urn:z" z:b="2" a="1" m:a="3"><m:x xmlns:m="urn:m">t</m:x></m:op>',
    b'<op xmlns="urn:d"><in xmlns="">x</in><in2 xmlns="urn:d"/><?pi data?></op>',
    b'<m:op xmlns:m="urn:m" v="a&#9;b&#10;c&quot;&lt;">x &gt; y &amp; z&#13;</m:op>',
    b'<m:fault xmlns:m="urn:m" xmlns:q="urn:q"><m:code>q:Sender</m:code></m:op>'.replace(b"m:op", b"m:fault"),
    b'<op xmlns="urn:d" xmlns:unused="urn:u"><deep><deeper xmlns:unused="urn:u2"/></deep></op>',
)


def _protected(payload: bytes, policy: ProtectionPolicy) -> tuple[bytes, SecurityContextToken, bytes]:
    sct = SecurityContextToken(new_identifier(), wsu_id="SCT-1")
    key = os.urandom(32)
    with compiled.forced_python():
        plain = envelope("1.2", payload=payload, extra_headers=CUSTOM_HEADER)
        data = protect(plain, ContextProtection(sct, key), policy)
    return data.data, sct, key


def _record(data: bytes, sct: SecurityContextToken, key: bytes) -> Any:
    """The core's record of ``data`` (a mapping read item by item)."""
    settings = compiled_unprotect.Prepared(core, Receiver(StaticKeys({})).limits, Requirements()).settings
    incoming = core.Incoming.parse(data, settings)
    assert [identifier for identifier, _, _ in incoming.contexts] == [sct.identifier]
    return incoming.verify([key], settings, lambda _v: None)


#: every item of the core's record
_RECORD_ITEMS = (
    "output",
    "soap",
    "headers",
    "body",
    "timestamp_signed",
    "digests",
    "security_parts",
    "signature",
    "signature_xml",
    "signature_key",
    "decryption",
    "confirmations",
    "sct_ids",
    "first_cipher_value",
    "derivation",
    "header_blocks",
    "payload_tags",
)


class _Altered(dict[str, Any]):
    """A copy of the core's (immutable) record, its items to alter as a writer fault would; the core's own
    check of the output (``output_matches``) still runs, on whatever output the copy holds."""

    def __init__(self, record: Any) -> None:
        super().__init__((item, record[item]) for item in _RECORD_ITEMS)
        self.output_matches = record.output_matches


def _altered(record: Any) -> _Altered:
    return _Altered(record)


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("encrypt", [True, False])
def test_the_output_is_its_own_canonical_form(payload: bytes, encrypt: bool) -> None:
    data, sct, key = _protected(payload, ProtectionPolicy(encrypt=encrypt))
    output = _record(data, sct, key)["output"]
    assert etree.tostring(etree.fromstring(output), method="c14n") == output
    # and the Body the application reads is the Body the Python path verified
    with compiled.forced_python():
        reference = Receiver(StaticKeys({sct.identifier: key})).unprotect(data, now=datetime.now(timezone.utc))
    record = _record(data, sct, key)
    view = compiled_unprotect._view(record, record["output"], record["headers"])
    assert c14n(view.body) == c14n(reference.body)


def test_the_whole_document_check_spares_the_per_part_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    data, sct, key = _protected(PAYLOADS[0], ProtectionPolicy())
    record = _record(data, sct, key)

    def refuse(*_args: object) -> None:
        raise AssertionError("a signed part was checked on its own")

    monkeypatch.setattr(compiled_unprotect, "_checked", refuse)
    assert len(compiled_unprotect._view(record, record["output"], record["headers"])._signed_in_envelope) >= 2


def test_a_view_not_canonical_is_checked_part_by_part() -> None:
    """Bytes lxml canonicalises differently (the Envelope's declarations swapped): each signed part is checked
    on its own, and they still read as verified."""
    data, sct, key = _protected(PAYLOADS[0], ProtectionPolicy())
    record = _altered(_record(data, sct, key))
    output: bytes = record["output"]
    head, rest = output.split(b">", 1)
    name, *declarations = head.split(b" ")
    record["output"] = b" ".join([name, *reversed(declarations)]) + b">" + rest
    assert record["output"] != output
    view = compiled_unprotect._view(record, record["output"], record["headers"])
    assert len(view._signed_in_envelope) >= 2


@pytest.mark.parametrize("canonical", [True, False])
@pytest.mark.parametrize("part", ["body", "header"])
def test_a_signed_part_read_differently_is_refused(part: str, canonical: bool) -> None:
    """Output that is not what was verified (a signed text changed after the fact): refused whether the whole
    document check (canonical bytes, the core's own reading) or the part-by-part check on lxml's tree finds it."""
    data, sct, key = _protected(PAYLOADS[0], ProtectionPolicy(signed_headers=(CUSTOM_TAG,)))
    record = _altered(_record(data, sct, key))
    old, new = (b">t<", b">u<") if part == "body" else (b">custom<", b">Custom<")
    assert record["output"].count(old) == 1
    record["output"] = record["output"].replace(old, new)
    if not canonical:
        record["output"] = record["output"].replace(b"<m:x>", b"<m:x    >")
    assert (etree.tostring(etree.fromstring(record["output"]), method="c14n") == record["output"]) is canonical
    with pytest.raises(InvalidSecurity, match="read the same way twice"):
        compiled_unprotect._view(record, record["output"], record["headers"])
