"""``compiled.contains_any`` (the core's SIMD substring search, used to classify requests by their bytes)
answers exactly as Python's ``in`` does, on the core and on the Python path."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wssc.conversation.classify import _NOT_IN_PLAIN_CONTEXT_MESSAGES, plainly_context_message
from wssc.security import compiled

ALPHABET = st.sampled_from([b"<", b">", b"&", b"!", b"R", b"e", b"n", b"w", b"Renew", b"EncryptedKey", b"x", b"\x00"])


@settings(max_examples=500, deadline=None)
@given(
    st.lists(ALPHABET, max_size=60).map(b"".join),
    st.lists(st.lists(ALPHABET, min_size=1, max_size=3).map(b"".join), max_size=4).map(tuple),
)
def test_contains_any_is_pythons_in(data: bytes, needles: tuple[bytes, ...]) -> None:
    expected = any(needle in data for needle in needles)
    assert compiled.contains_any(data, needles) is expected
    with compiled.forced_python():
        assert compiled.contains_any(data, needles) is expected


@pytest.mark.parametrize("marker", _NOT_IN_PLAIN_CONTEXT_MESSAGES)
def test_a_marker_anywhere_makes_a_request_not_plain(marker: bytes) -> None:
    body = b'<s:Envelope xmlns:s="urn:s"><s:Body>' + b"x" * 5000 + b"</s:Body></s:Envelope>"
    assert plainly_context_message(body)
    for at in (1, 40, len(body) // 2, len(body) - 1):
        assert not plainly_context_message(body[:at] + marker + body[at:])
