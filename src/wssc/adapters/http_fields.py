"""HTTP request fields both adapters read (RFC 9110; SOAP 1.1 section 6.1.1; SOAP 1.2 part 2 section 7.1.4)."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Final

from wssc.primitives.xml import is_ascii_digits

#: More digits than this in a Content-Length is more than any body limit (and than ``int`` should parse).
_LENGTH_DIGITS: Final = 18


def transport_action(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """SOAPAction (SOAP 1.1) or the ``action`` parameter of application/soap+xml (SOAP 1.2 part 2, 7.1.4)."""
    for name, value in headers:
        lower = name.lower()
        if lower == b"soapaction":
            return value.decode("latin-1").strip().strip('"') or None
        if lower == b"content-type":
            for param in value.decode("latin-1").split(";")[1:]:
                key, _, raw = param.strip().partition("=")
                if key.lower() == "action":
                    return raw.strip().strip('"') or None
    return None


def content_length(value: str) -> int | None:
    """A Content-Length field value (RFC 9110 section 8.6: ``1*DIGIT``), or None when malformed: negative,
    signed, blank inside, not ASCII digits.  A value longer than any limit reads as ``sys.maxsize``."""
    value = value.strip(" \t")
    if not is_ascii_digits(value):
        return None
    significant = value.lstrip("0")
    return sys.maxsize if len(significant) > _LENGTH_DIGITS else int(significant or "0")
