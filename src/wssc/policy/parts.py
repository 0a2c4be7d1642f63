"""Protection assertions: ``sp:SignedParts`` and ``sp:EncryptedParts`` (WS-SecurityPolicy 1.2 sections 4.1.1 and
4.2.1), the message parts a policy wants signed or encrypted, and what of them wssc cannot express.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from wssc import namespaces as ns

#: The WS-Addressing headers WCF signs (SPEC-NOTES section 11): listing them all means "every WS-A header".
ADDRESSING_HEADERS: Final = frozenset({"To", "From", "FaultTo", "ReplyTo", "MessageID", "RelatesTo", "Action"})


@dataclass(frozen=True)
class HeaderPart:
    """``sp:Header``: the header ``{namespace}name``, or every header of ``namespace`` when name is None."""

    namespace: str
    name: str | None = None

    @property
    def is_addressing(self) -> bool:
        return self.namespace in ns.WSA_NAMESPACES


@dataclass(frozen=True)
class MessageParts:
    """``sp:SignedParts`` or ``sp:EncryptedParts`` (WS-SP 1.2 sections 4.1.1, 4.2.1).  Without children
    SignedParts means the Body and every header (``all_headers``), EncryptedParts the Body."""

    body: bool = False
    headers: tuple[HeaderPart, ...] = ()
    all_headers: bool = False
    attachments: bool = False

    @staticmethod
    def union(parts: Sequence[MessageParts]) -> MessageParts | None:
        """Several assertions of one alternative combine (section 4.1.1); None when there are none."""
        if not parts:
            return None
        return MessageParts(
            any(p.body for p in parts),
            tuple(dict.fromkeys(h for p in parts for h in p.headers)),
            any(p.all_headers for p in parts),
            any(p.attachments for p in parts),
        )

    def addressing(self) -> str:
        """Which WS-Addressing headers are covered: "all", "some" or "none"."""
        if self.all_headers or any(h.is_addressing and h.name is None for h in self.headers):
            return "all"
        names = {h.name for h in self.headers if h.is_addressing}
        return "all" if names >= ADDRESSING_HEADERS else "some" if names else "none"

    def named(self, addressing: bool) -> tuple[str, ...]:
        """Clark names of the named headers (WS-Addressing ones only when ``addressing``)."""
        return tuple(ns.qn(h.namespace, h.name) for h in self.headers if h.name and (addressing or not h.is_addressing))

    def gaps(self, signed: bool) -> list[str]:
        """What wssc cannot express of these parts."""
        gaps = ["attachments (SOAP with Attachments) are not implemented"] if self.attachments else []
        whole = [h.namespace for h in self.headers if h.name is None and not h.is_addressing]
        gaps += [f"every header of namespace {namespace} (wssc names headers one by one)" for namespace in whole]
        if not signed:
            return gaps
        if self.all_headers:
            gaps.append("every header signed (wssc signs the WS-Addressing headers and the headers it is given)")
        if self.addressing() == "some":
            gaps.append("only some WS-Addressing headers signed (receivers demand all of them or none)")
        gaps += [
            f"header {name} signed if present (receivers can only demand headers that are always present)"
            for name in self.named(addressing=False)
        ]
        return gaps
