"""What a verified message must have signed, encrypted or present (WS-SP 1.2 sections 4.1-4.2), read from a
:class:`PartsSeen` record so that the Python path and the compiled core's glue apply the very same checks."""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from wssc import namespaces as ns
from wssc.errors import InvalidSecurity
from wssc.security.policy import Requirements

_SECURITY = ns.qn(ns.WSSE, "Security")


@dataclass(frozen=True)
class PartsSeen:
    """What the requirement checks read about a verified message's parts, from either path (the Python path's
    tree or the compiled core's record), so that both apply the very same checks (:func:`check_coverage`)."""

    timestamp: bool
    timestamp_signed: bool
    body_signed: bool
    body_encrypted: bool
    #: (Clark name, signed) of each header block but the Security header processed; None without a Header
    headers: tuple[tuple[str, bool], ...] | None


def check_coverage(parts: PartsSeen, req: Requirements) -> None:
    """The requirements on what must be signed, encrypted or present (WS-SP 1.2 sections 4.1-4.2)."""
    if req.timestamp and not parts.timestamp:
        raise InvalidSecurity("a Timestamp is required")
    if req.signature and req.signed_timestamp and parts.timestamp and not parts.timestamp_signed:
        raise InvalidSecurity("the Timestamp is not signed")
    if req.signature and req.signed_body and not parts.body_signed:
        raise InvalidSecurity("the Body is not signed")
    if req.encrypted_body and not parts.body_encrypted:
        raise InvalidSecurity("the Body is not encrypted")
    if req.protected_body and not (parts.body_encrypted or parts.body_signed):
        raise InvalidSecurity("the Body is neither signed nor encrypted")
    if parts.headers is not None and req.signature:
        for tag, signed in parts.headers:
            wanted = tag in req.signed_headers or (
                req.signed_addressing_headers and etree.QName(tag).namespace in ns.WSA_NAMESPACES
            )
            if wanted and not signed:
                raise InvalidSecurity(f"header {tag} is not signed")
    present = {_SECURITY} | ({tag for tag, _ in parts.headers} if parts.headers is not None else set())
    for name in req.signed_headers:
        if parts.headers is None or name not in present:
            raise InvalidSecurity(f"required header {name} is missing")
