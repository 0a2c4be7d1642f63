"""``wst:RequestSecurityToken`` for the SCT bindings and negotiation (WS-Trust 1.3 sections 3.1 and 4 to 8;
WS-SC 1.3 sections 3 to 6; Feb 2005 WS-Trust sections 5 to 8).

Hand-written: no maintained Python library models WS-Trust messages (see :mod:`wssc.trust.elements` for the
reading rules: any child order, duplicates and unknown WS-Trust names refused, foreign children kept).

**Child order on write** is WCF's (``WSTrust.Driver.WriteRequestSecurityToken`` and
``WSTrustFeb2005.DriverFeb2005.WriteTargets`` in microsoft/referencesource
``System.ServiceModel/System/ServiceModel/Security/WSTrust.cs`` / ``WSTrustFeb2005.cs``; dotnet/wcf
``src/System.Private.ServiceModel/src/System/ServiceModel/Security/`` has the same code, and the WS-Trust 1.3
driver ``WSTrustDec2005`` inherits it): ``Context`` attribute, TokenType, RequestType, AppliesTo, Entropy,
KeySize, BinaryExchange, RenewTarget, CancelTarget, then WCF's free-form "request properties".  WCF never
writes Lifetime, KeyType, ComputedKeyAlgorithm or Claims itself (they travel as request properties), nor
ValidateTarget; they follow the targets here in the order ValidateTarget, Lifetime, KeyType,
ComputedKeyAlgorithm, Claims, then ``extensions``.

**Amend** (WS-SC 1.3 section 4 "Amending Contexts", Feb 2005 section 5): the request travels with action
``RST/SCT/Amend`` and is authorised by its signatures (one with the SCT key, endorsing ones by the new
credentials whose claims are added).  The spec's example body is a plain RST whose RequestType is WS-Trust's
``.../Issue``: WS-Trust defines no Amend request type, and the body names no target, since the context is
the SCT in the security header.  No implementation was found to compare with (WCF always publishes
``sp:MustNotSendAmend``; CXF, Metro and Rampart only declare the action constants).  So
:attr:`RequestType.AMEND` writes ``.../Issue``, and :meth:`RequestSecurityToken.from_element` returns AMEND
only when given the ``RST/SCT/Amend`` action; ``claims`` carries optional ``wst:Claims`` content verbatim.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from lxml import etree

from wssc import namespaces as ns
from wssc.errors import InvalidRequest
from wssc.primitives.xml import Element
from wssc.tokens.reference import STR_TAG, SecurityTokenReference
from wssc.tokens.sct import SecurityContextToken
from wssc.trust import elements as te
from wssc.trust.actions import operation_for_action
from wssc.trust.elements import BinaryExchange, Lifetime, RequestType
from wssc.versions import SCVersion, by_sc_namespace

__all__ = ["RequestSecurityToken", "RequestType", "Target", "read_target"]

Target = SecurityTokenReference | SecurityContextToken
"""What a RenewTarget, CancelTarget or ValidateTarget holds: a reference, or the SCT itself."""

#: WS-Trust 1.3 / Feb 2005 RST children this module keeps verbatim in ``extensions`` without interpreting.
_PASSTHROUGH: Final = frozenset(
    {
        "AllowPostdating", "Renewing", "OnBehalfOf", "Issuer", "AuthenticationType", "SignatureAlgorithm",
        "EncryptionAlgorithm", "CanonicalizationAlgorithm", "KeyWrapAlgorithm", "Encryption", "ProofEncryption",
        "UseKey", "SignWith", "EncryptWith", "DelegateTo", "Forwardable", "Delegatable", "Participants",
        "SecondaryParameters", "SignChallenge", "SignChallengeResponse", "RequestKET",
    }
)  # fmt: skip
_SIMPLE: Final = {"TokenType": "token_type", "ComputedKeyAlgorithm": "computed_key_algorithm", "KeyType": "key_type"}
_TARGETS: Final = {"RenewTarget": "renew_target", "CancelTarget": "cancel_target", "ValidateTarget": "validate_target"}


def read_target(el: Element) -> Target:
    """The content of a ``wst:RenewTarget`` / ``CancelTarget`` / ``ValidateTarget`` (WS-Trust 1.3 sections 5 to 7)."""
    child = te.single_child(el)
    what = etree.QName(el).localname
    if child.tag == STR_TAG:
        with te.reading(what):
            return SecurityTokenReference.from_element(child)
    qname = etree.QName(child)
    if qname.localname == "SecurityContextToken" and by_sc_namespace(qname.namespace) is not None:
        with te.reading(what):
            return SecurityContextToken.from_element(child)
    raise InvalidRequest(f"{what} must hold a SecurityTokenReference or a SecurityContextToken")


@dataclass(frozen=True)
class RequestSecurityToken:
    """An RST; only ``request_type`` is required.  Sizes are in bits, entropy is the raw client nonce."""

    request_type: RequestType
    token_type: str | None = None
    context: str | None = None
    applies_to: str | None = None
    entropy: bytes | None = field(default=None, repr=False)
    key_size: int | None = None
    computed_key_algorithm: str | None = None
    lifetime: Lifetime | None = None
    renew_target: Target | None = None
    cancel_target: Target | None = None
    validate_target: Target | None = None
    binary_exchange: BinaryExchange | None = None
    #: ``wst:Claims`` children, detached copies (Amend adds claims to a context)
    claims: tuple[Element, ...] = ()
    claims_dialect: str | None = None
    key_type: str | None = None
    #: children kept verbatim: foreign namespaces and WS-Trust elements not interpreted here
    extensions: tuple[Element, ...] = ()

    @property
    def has_claims(self) -> bool:
        return bool(self.claims) or self.claims_dialect is not None

    def to_element(self, version: SCVersion, parent: Element | None = None, *, addressing: str = ns.WSA10) -> Element:
        """Write the RST in ``version``'s namespace, children in WCF's order (module docstring)."""
        tag = version.trust_qname("RequestSecurityToken")
        nsmap = {te.prefix(version): version.trust}
        if self.lifetime is not None:
            nsmap["u"] = ns.WSU
        el = etree.Element(tag, nsmap=nsmap) if parent is None else etree.SubElement(parent, tag, nsmap=nsmap)
        if self.context is not None:
            el.set("Context", self.context)
        if self.token_type is not None:
            etree.SubElement(el, version.trust_qname("TokenType")).text = self.token_type
        etree.SubElement(el, version.trust_qname("RequestType")).text = self.request_type.uri(version)
        if self.applies_to is not None:
            te.write_applies_to(el, self.applies_to, addressing)
        if self.entropy is not None:
            te.write_entropy(el, version, self.entropy)
        if self.key_size is not None:
            etree.SubElement(el, version.trust_qname("KeySize")).text = str(self.key_size)
        if self.binary_exchange is not None:
            te.write_binary_exchange(el, version, self.binary_exchange)
        for local, target in (
            ("RenewTarget", self.renew_target),
            ("CancelTarget", self.cancel_target),
            ("ValidateTarget", self.validate_target),
        ):
            if target is not None:
                target.to_element(etree.SubElement(el, version.trust_qname(local)))
        if self.lifetime is not None:
            te.write_lifetime(el, version, self.lifetime)
        if self.key_type is not None:
            etree.SubElement(el, version.trust_qname("KeyType")).text = self.key_type
        if self.computed_key_algorithm is not None:
            etree.SubElement(el, version.trust_qname("ComputedKeyAlgorithm")).text = self.computed_key_algorithm
        if self.has_claims:
            claims = etree.SubElement(el, version.trust_qname("Claims"))
            if self.claims_dialect is not None:
                claims.set("Dialect", self.claims_dialect)
            for child in self.claims:
                claims.append(te.keep(child))
        for ext in self.extensions:
            el.append(te.keep(ext))
        return el

    @classmethod
    def from_element(cls, el: Element, *, action: str | None = None) -> RequestSecurityToken:
        """Parse an RST of either version; raises :class:`~wssc.errors.InvalidRequest` on malformed input.

        ``action`` (the message's WS-Addressing action), when given, must be an RST action of the same
        version whose operation matches the RequestType; ``RST/SCT/Amend`` turns an Issue request into AMEND.
        """
        version = te.message_version(el, "RequestSecurityToken")
        fields: dict[str, object] = {}
        request_type: RequestType | None = None
        claims: tuple[Element, ...] = ()
        claims_dialect: str | None = None
        extensions: list[Element] = []
        for local, child in te.classified_children(el, version, _PASSTHROUGH, "RequestSecurityToken", extensions):
            if local == "RequestType":
                request_type = RequestType.from_uri(te.text(child), version)
            elif local in _SIMPLE:
                fields[_SIMPLE[local]] = te.text(child)
            elif local in _TARGETS:
                fields[_TARGETS[local]] = read_target(child)
            elif local == "AppliesTo":
                fields["applies_to"] = te.read_applies_to(child)
            elif local == "Entropy":
                fields["entropy"] = te.read_entropy(child)
            elif local == "KeySize":
                fields["key_size"] = te.read_key_size(child)
            elif local == "Lifetime":
                fields["lifetime"] = te.read_lifetime(child)
            elif local == "BinaryExchange":
                fields["binary_exchange"] = te.read_binary_exchange(child)
            elif local == "Claims":
                claims = tuple(te.keep(c) for c in te.element_children(child))
                claims_dialect = child.get("Dialect")
            else:
                raise InvalidRequest(f"unexpected {local} in RequestSecurityToken")
        if request_type is None:
            raise InvalidRequest("RequestSecurityToken without RequestType")
        if action is not None:
            request_type = _check_action(action, version, request_type)
        return cls(
            request_type,
            context=el.get("Context"),
            claims=claims,
            claims_dialect=claims_dialect,
            extensions=tuple(extensions),
            **fields,  # type: ignore[arg-type]
        )


def _check_action(action: str, version: SCVersion, request_type: RequestType) -> RequestType:
    """The request type an action and a body agree on (WS-SC 1.3 section 4 for Amend)."""
    info = operation_for_action(action)
    if info is None or info.is_response or info.version != version:
        raise InvalidRequest(f"action {action!r} is not a {version.name} RST action")
    if info.operation is RequestType.AMEND and request_type is RequestType.ISSUE:
        return RequestType.AMEND
    if info.operation is not request_type:
        raise InvalidRequest(f"action {action!r} does not match RequestType {request_type.name}")
    return request_type
