"""Protocol versions: WS-SecureConversation Feb 2005 and OASIS 1.3/1.4 with their WS-Trust.

Everything that differs between the two versions is a field of :class:`SCVersion`
(SPEC-NOTES sections 1 and 2).  Readers accept both; writers use the configured one.
OASIS WS-SC 1.4 kept the 1.3 namespace, so :data:`SC_1_3` serves both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from wssc import namespaces as ns

DEFAULT_LABEL: Final = "WS-SecureConversationWS-SecureConversation"
"""WS-SC 1.3 section 7: the default P_SHA1 label, "WS-SecureConversation" written twice."""


@dataclass(frozen=True)
class SCVersion:
    """One WS-SecureConversation version together with the WS-Trust it pairs with."""

    name: str
    sc: str
    trust: str
    security_policy: str

    @property
    def sct_token_type(self) -> str:
        """Token type and STR ValueType of a SecurityContextToken (WS-SC 1.3 section 3)."""
        return self.sc + "/sct"

    @property
    def dk_token_type(self) -> str:
        """Token type and STR ValueType of a DerivedKeyToken (WS-SC 1.3 section 7)."""
        return self.sc + "/dk"

    @property
    def p_sha1(self) -> str:
        """DerivedKeyToken Algorithm URI for P_SHA1 (WS-SC 1.3 section 7)."""
        return self.sc + "/dk/p_sha1"

    @property
    def ck_psha1(self) -> str:
        """WS-Trust ComputedKey algorithm ``CK/PSHA1`` (WS-Trust 1.3 section 4.4.4)."""
        return self.trust + "/CK/PSHA1"

    def trust_uri(self, suffix: str) -> str:
        """A WS-Trust URI of this version, e.g. ``trust_uri("Issue")`` or ``trust_uri("Nonce")``."""
        return self.trust + "/" + suffix

    def action(self, suffix: str) -> str:
        """A WS-Addressing action of this version, e.g. ``action("RST/SCT")`` (SPEC-NOTES section 2)."""
        return self.trust + "/" + suffix

    def sc_qname(self, local: str) -> str:
        return ns.qn(self.sc, local)

    def trust_qname(self, local: str) -> str:
        return ns.qn(self.trust, local)


SC_2005_02: Final = SCVersion(
    name="2005-02",
    sc="http://schemas.xmlsoap.org/ws/2005/02/sc",
    trust="http://schemas.xmlsoap.org/ws/2005/02/trust",
    security_policy=ns.SP11,
)
SC_1_3: Final = SCVersion(
    name="1.3",
    sc="http://docs.oasis-open.org/ws-sx/ws-secureconversation/200512",
    trust="http://docs.oasis-open.org/ws-sx/ws-trust/200512",
    security_policy=ns.SP12,
)

VERSIONS: Final = (SC_1_3, SC_2005_02)
_BY_SC_NS: Final = {v.sc: v for v in VERSIONS}
_BY_TRUST_NS: Final = {v.trust: v for v in VERSIONS}
_BY_NAME: Final = {v.name: v for v in VERSIONS} | {"1.4": SC_1_3, "200512": SC_1_3, "2005/02": SC_2005_02}


def by_sc_namespace(namespace: str | None) -> SCVersion | None:
    """The version whose WS-SC namespace is ``namespace``, or None."""
    return _BY_SC_NS.get(namespace or "")


def by_trust_namespace(namespace: str | None) -> SCVersion | None:
    """The version whose WS-Trust namespace is ``namespace``, or None."""
    return _BY_TRUST_NS.get(namespace or "")


def by_name(name: str) -> SCVersion:
    """Look a version up by its command-line name (``1.3``, ``1.4`` or ``2005-02``)."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown WS-SecureConversation version {name!r}; use 1.3 or 2005-02") from None
