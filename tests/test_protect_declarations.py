"""protect declares the utility namespace on the Envelope without changing any name of the message (found by
the compiled core's differential run: the Python path moved the children under a new Envelope, and lxml
re-pointed their names at declarations of the same URI, whatever the prefix their headers bound)."""

from __future__ import annotations

import contextlib
import os

import pytest
from lxml import etree

from wssc import namespaces as ns
from wssc.security import compiled
from wssc.security.keys import ContextProtection, StaticKeys
from wssc.security.policy import ProtectionPolicy, Requirements
from wssc.security.protect import protect
from wssc.security.unprotect import Receiver
from wssc.tokens.sct import SecurityContextToken

#: a header binds ``u`` to a namespace of its own and the utility namespace to ``tns``, with a signed block
#: carrying a wsu:Id already: the Envelope declares neither ``u`` nor the utility namespace
ENVELOPE = (
    b'<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/">'
    b'<Header xmlns:tns="' + ns.WSU.encode() + b'" xmlns:u="urn:other:x">'
    b'<h:Block xmlns:h="http://tempuri.org/" tns:Id="block-1">text</h:Block>'
    b"<u:value>other</u:value></Header>"
    b'<Body><m:op xmlns:m="urn:m">x</m:op></Body></Envelope>'
)
BLOCK = "{http://tempuri.org/}Block"


@pytest.mark.parametrize("encrypt", [False, True])
def test_names_keep_their_namespaces_when_the_utility_namespace_is_declared(encrypt: bool) -> None:
    sct = SecurityContextToken("urn:uuid:declarations", wsu_id="sct-1")
    key = os.urandom(32)
    policy = ProtectionPolicy(encrypt=encrypt, signed_headers=(BLOCK,))
    with compiled.forced_python():
        data = protect(ENVELOPE, ContextProtection(sct, key), policy).data
    sent = etree.fromstring(data)
    header = sent.find(f"{{{ns.SOAP11}}}Header")
    assert header is not None
    block = header.find(BLOCK)
    assert block is not None and block.get(ns.WSU_ID) == "block-1"  # still the utility namespace's Id
    assert header.find("{urn:other:x}value") is not None  # and ``u:value`` still in its own namespace
    assert sent.nsmap.get("u") == ns.WSU
    for forced in (True, False):
        if not forced and compiled.core() is None:
            continue
        with compiled.forced_python() if forced else contextlib.nullcontext():
            requirements = Requirements(signed_headers=(BLOCK,), detect_replays=False)
            verified = Receiver(StaticKeys({sct.identifier: key}), requirements).unprotect(data)
        assert verified.is_signed(verified.header.find(BLOCK))  # type: ignore[union-attr]


def test_the_callers_tree_is_left_as_it_was() -> None:
    root = etree.fromstring(ENVELOPE)
    before = etree.tostring(root)
    with compiled.forced_python():
        protect(root, ContextProtection(SecurityContextToken("urn:uuid:x", wsu_id="sct-1"), os.urandom(32)))
    assert etree.tostring(root) == before

