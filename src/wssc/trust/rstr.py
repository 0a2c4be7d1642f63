"""``wst:RequestSecurityTokenResponse`` and ``wst:RequestSecurityTokenResponseCollection`` (WS-Trust 1.3
sections 3.2, 4.3, 4.4 and 5 to 8; WS-SC 1.3 sections 3 to 6; SPEC-NOTES sections 5 and 9).

Hand-written: no maintained Python library models WS-Trust messages (reading rules in :mod:`wssc.trust.elements`).

**Child order on write** is WCF's ``WSTrust.Driver.WriteRequestSecurityTokenResponse`` with the Feb 2005
``WriteReferences`` / ``WriteRequestedTokenClosed`` overrides (microsoft/referencesource
``System.ServiceModel/System/ServiceModel/Security/WSTrust.cs`` and ``WSTrustFeb2005.cs``; the 1.3 driver
inherits them): TokenType, RequestedSecurityToken, AppliesTo, RequestedAttachedReference,
RequestedUnattachedReference, RequestedProofToken, Entropy, Lifetime, Authenticator, KeySize,
RequestedTokenCancelled, BinaryExchange; WCF writes no Status, which follows here, then ``extensions``.

The issued SCT is kept as parsed (:attr:`SecurityContextToken.source`), so a client echoes it, WCF's opaque
``dnse:Cookie`` included, exactly as received.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from lxml import etree

from wssc import namespaces as ns
from wssc.errors import InvalidRequest
from wssc.primitives.xml import Element, b64decode, b64encode
from wssc.tokens.encrypted_key import EK_TAG, EncryptedKey
from wssc.tokens.reference import STR_TAG, SecurityTokenReference
from wssc.tokens.sct import SecurityContextToken
from wssc.trust import elements as te
from wssc.trust.elements import BinaryExchange, BinarySecret, ComputedKey, Lifetime, RequestType, Status
from wssc.versions import SCVersion, by_sc_namespace, by_trust_namespace

ProofToken = BinarySecret | ComputedKey | EncryptedKey
"""What ``wst:RequestedProofToken`` holds: the key, a computed-key marker, or the key encrypted for us."""

#: More RSTRs than any binding sends (WCF: 1, or 2 with the negotiation Authenticator); bounds the work.
MAX_COLLECTION_SIZE: Final = 16

#: WS-Trust RSTR children this module keeps verbatim in ``extensions`` without interpreting.
_PASSTHROUGH: Final = frozenset(
    {
        "RequestType", "Renewing", "Issuer", "AuthenticationType", "KeyType", "SignatureAlgorithm",
        "EncryptionAlgorithm", "CanonicalizationAlgorithm", "ComputedKeyAlgorithm", "KeyWrapAlgorithm",
        "Encryption", "ProofEncryption", "UseKey", "SignWith", "EncryptWith", "DelegateTo", "Forwardable",
        "Delegatable", "Participants", "AllowPostdating", "OnBehalfOf", "Claims", "SignChallenge",
        "SignChallengeResponse", "RequestedTokenReference", "KeyExchangeToken",
    }
)  # fmt: skip
_REFERENCES: Final = {
    "RequestedAttachedReference": "requested_attached_reference",
    "RequestedUnattachedReference": "requested_unattached_reference",
}


def _status_uri(version: SCVersion, valid: bool) -> str:
    return version.trust_uri("status/valid" if valid else "status/invalid")


@dataclass(frozen=True)
class RequestSecurityTokenResponse:
    """An RSTR; every field is optional (an intermediate negotiation leg carries only ``binary_exchange``)."""

    token_type: str | None = None
    context: str | None = None
    requested_security_token: SecurityContextToken | None = None
    requested_attached_reference: SecurityTokenReference | None = None
    requested_unattached_reference: SecurityTokenReference | None = None
    requested_proof_token: ProofToken | None = None
    #: issuer entropy (``Entropy/BinarySecret``, combined-entropy mode)
    entropy: bytes | None = field(default=None, repr=False)
    lifetime: Lifetime | None = None
    key_size: int | None = None
    applies_to: str | None = None
    requested_token_cancelled: bool = False
    status: Status | None = None
    #: ``Authenticator/CombinedHash`` of the negotiation's final leg
    authenticator: bytes | None = None
    binary_exchange: BinaryExchange | None = None
    extensions: tuple[Element, ...] = ()

    def to_element(self, version: SCVersion, parent: Element | None = None, *, addressing: str = ns.WSA10) -> Element:
        """Write the RSTR in ``version``'s namespace, children in WCF's order (module docstring)."""
        tag = version.trust_qname("RequestSecurityTokenResponse")
        nsmap = {te.prefix(version): version.trust, "u": ns.WSU}  # WCF declares wsu once, on the RSTR
        el = etree.Element(tag, nsmap=nsmap) if parent is None else etree.SubElement(parent, tag, nsmap=nsmap)
        if self.context is not None:
            el.set("Context", self.context)
        if self.token_type is not None:
            etree.SubElement(el, version.trust_qname("TokenType")).text = self.token_type
        if self.requested_security_token is not None:
            self.requested_security_token.to_element(
                etree.SubElement(el, version.trust_qname("RequestedSecurityToken"))
            )
        if self.applies_to is not None:
            te.write_applies_to(el, self.applies_to, addressing)
        for local, ref in (
            ("RequestedAttachedReference", self.requested_attached_reference),
            ("RequestedUnattachedReference", self.requested_unattached_reference),
        ):
            if ref is not None:
                ref.to_element(etree.SubElement(el, version.trust_qname(local)))
        if self.requested_proof_token is not None:
            _write_proof_token(etree.SubElement(el, version.trust_qname("RequestedProofToken")), version, self)
        if self.entropy is not None:
            te.write_entropy(el, version, self.entropy)
        if self.lifetime is not None:
            te.write_lifetime(el, version, self.lifetime)
        if self.authenticator is not None:
            auth = etree.SubElement(el, version.trust_qname("Authenticator"))
            etree.SubElement(auth, version.trust_qname("CombinedHash")).text = b64encode(self.authenticator)
        if self.key_size is not None:
            etree.SubElement(el, version.trust_qname("KeySize")).text = str(self.key_size)
        if self.requested_token_cancelled:
            etree.SubElement(el, version.trust_qname("RequestedTokenCancelled"))
        if self.binary_exchange is not None:
            te.write_binary_exchange(el, version, self.binary_exchange)
        if self.status is not None:
            status = etree.SubElement(el, version.trust_qname("Status"))
            etree.SubElement(status, version.trust_qname("Code")).text = _status_uri(version, self.status.valid)
            if self.status.reason is not None:
                etree.SubElement(status, version.trust_qname("Reason")).text = self.status.reason
        for ext in self.extensions:
            el.append(te.keep(ext))
        return el

    @classmethod
    def from_element(cls, el: Element) -> RequestSecurityTokenResponse:
        """Parse an RSTR of either version; raises :class:`~wssc.errors.InvalidRequest` on malformed input."""
        version = te.message_version(el, "RequestSecurityTokenResponse")
        fields: dict[str, object] = {}
        extensions: list[Element] = []
        for local, child in te.classified_children(
            el, version, _PASSTHROUGH, "RequestSecurityTokenResponse", extensions
        ):
            if local == "TokenType":
                fields["token_type"] = te.text(child)
            elif local == "RequestedSecurityToken":
                fields["requested_security_token"] = _read_issued_token(child)
            elif local in _REFERENCES:
                fields[_REFERENCES[local]] = _read_reference(child)
            elif local == "RequestedProofToken":
                fields["requested_proof_token"] = _read_proof_token(child, version)
            elif local == "Entropy":
                fields["entropy"] = te.read_entropy(child)
            elif local == "Lifetime":
                fields["lifetime"] = te.read_lifetime(child)
            elif local == "KeySize":
                fields["key_size"] = te.read_key_size(child)
            elif local == "AppliesTo":
                fields["applies_to"] = te.read_applies_to(child)
            elif local == "RequestedTokenCancelled":
                if te.element_children(child):
                    raise InvalidRequest("RequestedTokenCancelled must be empty")
                fields["requested_token_cancelled"] = True
            elif local == "Status":
                fields["status"] = _read_status(child, version)
            elif local == "Authenticator":
                fields["authenticator"] = _read_authenticator(child, version)
            elif local == "BinaryExchange":
                fields["binary_exchange"] = te.read_binary_exchange(child)
            else:
                raise InvalidRequest(f"unexpected {local} in RequestSecurityTokenResponse")
        return cls(context=el.get("Context"), extensions=tuple(extensions), **fields)  # type: ignore[arg-type]


@dataclass(frozen=True)
class RequestSecurityTokenResponseCollection:
    """``wst:RequestSecurityTokenResponseCollection`` (WS-Trust 1.3 section 4.3): one or more RSTRs."""

    responses: tuple[RequestSecurityTokenResponse, ...]

    def to_element(self, version: SCVersion, parent: Element | None = None, *, addressing: str = ns.WSA10) -> Element:
        if not self.responses:
            raise ValueError("a RequestSecurityTokenResponseCollection holds at least one response")
        tag = version.trust_qname("RequestSecurityTokenResponseCollection")
        nsmap = {te.prefix(version): version.trust}
        el = etree.Element(tag, nsmap=nsmap) if parent is None else etree.SubElement(parent, tag, nsmap=nsmap)
        for response in self.responses:
            response.to_element(version, el, addressing=addressing)
        return el

    @classmethod
    def from_element(cls, el: Element) -> RequestSecurityTokenResponseCollection:
        version = te.message_version(el, "RequestSecurityTokenResponseCollection")
        children = te.element_children(el)
        if not 1 <= len(children) <= MAX_COLLECTION_SIZE:
            raise InvalidRequest(f"a collection holds 1..{MAX_COLLECTION_SIZE} responses, not {len(children)}")
        responses = []
        for child in children:
            if child.tag != version.trust_qname("RequestSecurityTokenResponse"):
                raise InvalidRequest(f"unexpected {child.tag} in RequestSecurityTokenResponseCollection")
            responses.append(RequestSecurityTokenResponse.from_element(child))
        return cls(tuple(responses))


def parse_response(body_child: Element) -> list[RequestSecurityTokenResponse]:
    """The RSTRs of a response body: a bare RSTR (Feb 2005) or an RSTRC (WS-Trust 1.3 Issue/Renew, negotiation)."""
    if not isinstance(body_child.tag, str):
        raise InvalidRequest("not an element")
    qname = etree.QName(body_child)
    if by_trust_namespace(qname.namespace) is not None and qname.localname == "RequestSecurityTokenResponseCollection":
        return list(RequestSecurityTokenResponseCollection.from_element(body_child).responses)
    return [RequestSecurityTokenResponse.from_element(body_child)]


def response_body(
    version: SCVersion,
    operation: RequestType,
    responses: Sequence[RequestSecurityTokenResponse],
    *,
    final: bool = True,
    addressing: str = ns.WSA10,
) -> Element:
    """The body element for ``responses``: an RSTRC for several RSTRs (the negotiation's final leg) and for
    the final response to a WS-Trust 1.3 issuance (Issue, Amend) or Renew (WS-Trust 1.3 section 4.3, as WCF
    and [MS-LWSSP] 2.2.2 do, SPEC-NOTES section 5); otherwise the bare RSTR (Feb 2005, Cancel, intermediate legs).
    """
    if not responses:
        raise ValueError("no responses")
    wrapped = operation in (RequestType.ISSUE, RequestType.AMEND, RequestType.RENEW)
    if len(responses) > 1 or (final and wrapped and version.name != "2005-02"):
        return RequestSecurityTokenResponseCollection(tuple(responses)).to_element(version, addressing=addressing)
    return responses[0].to_element(version, addressing=addressing)


# --- children -------------------------------------------------------------------------------------------------


def _read_issued_token(el: Element) -> SecurityContextToken:
    token = te.single_child(el)
    qname = etree.QName(token)
    if qname.localname != "SecurityContextToken" or by_sc_namespace(qname.namespace) is None:
        raise InvalidRequest("RequestedSecurityToken must hold a SecurityContextToken")
    with te.reading("RequestedSecurityToken"):
        return SecurityContextToken.from_element(token)


def _read_reference(el: Element) -> SecurityTokenReference:
    ref = te.single_child(el)
    if ref.tag != STR_TAG:
        raise InvalidRequest(f"{etree.QName(el).localname} must hold a SecurityTokenReference")
    with te.reading(etree.QName(el).localname):
        return SecurityTokenReference.from_element(ref)


def _read_proof_token(el: Element, version: SCVersion) -> ProofToken:
    """BinarySecret, ComputedKey or EncryptedKey (WS-Trust 1.3 section 4.4.3; TLS_Wrap/GSS_Wrap in negotiation)."""
    token = te.single_child(el)
    if te.is_binary_secret(token):
        return BinarySecret(te.read_binary_secret(token, "RequestedProofToken"))
    if token.tag == version.trust_qname("ComputedKey"):
        algorithm = te.text(token)
        return ComputedKey(None if algorithm == version.ck_psha1 else algorithm)
    if token.tag == EK_TAG:
        with te.reading("RequestedProofToken"):
            encrypted = EncryptedKey.from_element(token)
        if not encrypted.cipher_value:
            raise InvalidRequest("empty EncryptedKey proof token")
        return encrypted
    raise InvalidRequest(f"unsupported proof token {token.tag}")


def _write_proof_token(parent: Element, version: SCVersion, response: RequestSecurityTokenResponse) -> None:
    token = response.requested_proof_token
    if isinstance(token, BinarySecret):
        te.write_binary_secret(parent, version, token.value, "SymmetricKey")
    elif isinstance(token, ComputedKey):
        etree.SubElement(parent, version.trust_qname("ComputedKey")).text = token.algorithm or version.ck_psha1
    elif isinstance(token, EncryptedKey):
        token.to_element(parent)


def _read_status(el: Element, version: SCVersion) -> Status:
    code = reason = None
    for child in te.element_children(el):
        if child.tag == version.trust_qname("Code") and code is None:
            code = te.text(child)
        elif child.tag == version.trust_qname("Reason") and reason is None:
            reason = te.text(child)
        else:
            raise InvalidRequest(f"unexpected or repeated {etree.QName(child).localname} in Status")
    if code not in (_status_uri(version, True), _status_uri(version, False)):
        raise InvalidRequest("Status without a valid/invalid Code")
    return Status(code == _status_uri(version, True), reason)


def _read_authenticator(el: Element, version: SCVersion) -> bytes:
    combined = te.single_child(el)
    if combined.tag != version.trust_qname("CombinedHash"):
        raise InvalidRequest("Authenticator must hold a CombinedHash")
    with te.reading("CombinedHash"):
        value = b64decode(te.text(combined), "CombinedHash")
    if not 1 <= len(value) <= te.MAX_COMBINED_HASH_BYTES:
        raise InvalidRequest("CombinedHash of unexpected length")
    return value
