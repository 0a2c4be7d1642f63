"""Body content under XML-Enc ``Type=#Content`` that only character data or a carriage return carries (found by
the compiled core's differential harness): both paths give it back as it was sent."""

from __future__ import annotations

import pytest

from helpers import context_round_trip
from wssc.security.policy import ProtectionPolicy

ENVELOPE = (
    b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header/><s:Body>%s</s:Body></s:Envelope>'
)


def _round_trip(body: bytes, policy: ProtectionPolicy, path: str) -> str:
    verified = context_round_trip(ENVELOPE % body, policy, path)
    return (verified.body.text or "") + "".join(c.tag for c in verified.body)


@pytest.mark.parametrize("path", ["python", "core"])
@pytest.mark.parametrize("sign", [False, True], ids=["encrypt-only", "sign-and-encrypt"])
def test_a_body_of_character_data_alone_survives_encryption(path: str, sign: bool) -> None:
    assert _round_trip(b"just text", ProtectionPolicy(sign=sign), path) == "just text"


@pytest.mark.parametrize("path", ["python", "core"])
def test_a_carriage_return_before_the_first_element_survives_encryption(path: str) -> None:
    assert _round_trip(b"a&#13;b<x/>", ProtectionPolicy(), path) == "a\rbx"
