"""An independent WCF SPNEGO/TLSNEGO negotiation client (NEGOTIATION.md §1.3), to check wssc's service.

It imports nothing from wssc: the XML, CombinedHash and mechanisms are re-derived from ``/work/shared/NEGOTIATION.md``
(section numbers §) in ``negotiation_driver_xml`` and ``negotiation_driver_mech``.  The service half is in
``negotiation_driver_service``.
"""

from __future__ import annotations

import hmac
import ssl
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from lxml import etree
from spnego import NegotiateOptions

from negotiation_driver_mech import Initiator, SpnegoInitiator, TlsInitiator, tls_client_context
from negotiation_driver_shape import shape_problems
from negotiation_driver_xml import (
    VERSIONS,
    WRAP_URIS,
    WSU,
    XENC,
    DriverError,
    DriverFault,
    Issued,
    Version,
    b64,
    c14n,
    combined_hash,
    envelope,
    header_text,
    read_binary_exchange,
    read_fault,
    read_timestamp,
    rst,
    rstr1_for_hash,
    rstr_leg,
    split_envelope,
)

__all__ = [
    "DriverClient",
    "DriverError",
    "DriverFault",
    "DriverResult",
    "FinalLeg",
    "http_poster",
    "read_final",
]

#: §1.3 step 3: Basic256 accepts only 256-bit keys (SecurityAlgorithmSuite.cs:547)
BASIC256_KEY_BITS = 256
#: §1.3 step 4 has no leg limit (only the caller's timeout); the driver stops a runaway exchange here
MAX_LEGS = 20

Post = Callable[[bytes, str], bytes]


@dataclass(frozen=True)
class FinalLeg:
    """A final RSTRC as the client reads it: RSTR#1, its SCT, the authenticator and what the service issued."""

    rstr1: etree._Element
    sct: etree._Element
    authenticator: bytes
    issued: Issued


def _one(parent: etree._Element, tag: str, what: str) -> etree._Element:
    found = parent.findall(tag)
    if len(found) != 1:
        raise DriverError(f"{what}: expected exactly one, found {len(found)}")
    return found[0]


def read_final(rstrc: etree._Element, version: Version, context: str, value_type: str) -> FinalLeg:
    """The structural checks of a final leg (§1.3 step 3, ServerEntropy mode; §2.1; §1.4 step 4)."""
    if rstrc.tag != version.t("RequestSecurityTokenResponseCollection"):
        raise DriverError("final leg body is not an RSTRC")
    rstrs = [c for c in rstrc if isinstance(c.tag, str)]
    if len(rstrs) != 2 or any(r.tag != version.t("RequestSecurityTokenResponse") for r in rstrs):
        raise DriverError("RSTRC must hold exactly two RSTRs (§1.3 step 3)")
    rstr1, rstr2 = rstrs
    for r in rstrs:
        if r.get("Context") != context:
            raise DriverError("RSTR Context differs from the client's Context (§1.3 step 3)")
    exchange = read_binary_exchange(rstr1, version)
    if exchange is not None and exchange[0] != value_type:
        raise DriverError("BinaryExchange ValueType differs from the client's (§1.3 step 3, exact equality)")
    if rstr1.findtext(version.t("TokenType")) != version.token_type:
        raise DriverError("TokenType is not the SCT type (§1.3 step 3)")
    for forbidden in ("Entropy", "ComputedKey"):  # ServerEntropy mode (WSTrust.cs:668-733)
        if rstr1.find(version.t(forbidden)) is not None:
            raise DriverError(f"RSTR carries {forbidden} (§1.3 step 3, ServerEntropy mode)")
    token = _one(rstr1, version.t("RequestedSecurityToken"), "RequestedSecurityToken")
    sct = _one(token, f"{{{version.sc}}}SecurityContextToken", "SecurityContextToken")
    identifier = (sct.findtext(f"{{{version.sc}}}Identifier") or "").strip()
    if not identifier:
        raise DriverError("SCT without Identifier (§4)")
    proof = _one(rstr1, version.t("RequestedProofToken"), "RequestedProofToken")
    encrypted = _one(proof, f"{{{XENC}}}EncryptedKey", "proof EncryptedKey (§2.1)")
    method = _one(encrypted, f"{{{XENC}}}EncryptionMethod", "EncryptionMethod").get("Algorithm", "")
    cipher = b64(encrypted.findtext(f"{{{XENC}}}CipherData/{{{XENC}}}CipherValue"), "CipherValue")
    lifetime = _one(rstr1, version.t("Lifetime"), "Lifetime")
    created = read_timestamp(lifetime.findtext(f"{{{WSU}}}Created"))
    expires = read_timestamp(lifetime.findtext(f"{{{WSU}}}Expires"))
    hash_el = _one(_one(rstr2, version.t("Authenticator"), "Authenticator"), version.t("CombinedHash"), "CombinedHash")
    size = (rstr1.findtext(version.t("KeySize")) or "0").strip()
    if not size.isdigit():
        raise DriverError("KeySize is not a number")
    issued = Issued(
        identifier,
        sct.get(f"{{{WSU}}}Id", ""),
        method,
        cipher,
        created,
        expires,
        int(size),
        value_type if exchange is None else exchange[0],
        None if exchange is None else exchange[1],
    )
    return FinalLeg(rstr1, sct, b64(hash_el.text, "CombinedHash"), issued)


@dataclass(frozen=True)
class DriverResult:
    """What a successful negotiation yields: the SCT (standalone XML), its Identifier, the proof key, the lifetime."""

    sct_element_bytes: bytes
    identifier: str
    key: bytes
    lifetime: tuple[datetime, datetime]
    legs: tuple[str, ...]  # body local names in exchange order, e.g. ("RST", "RSTR", "RSTR", "RSTRC")
    sct_id: str
    context: str
    final_blob: bool  # whether the final RSTR#1 carried a BinaryExchange (§1.5)


class DriverClient:
    """WCF's client side of SPNEGO/TLSNEGO (§1.3) over ``post(envelope_bytes, action) -> response_bytes``.

    SPNEGO: ``username``/``password`` (None → default credentials, e.g. a Kerberos ccache), target
    ``service/hostname`` (§6.2, ``host/<dns>`` by default), ``spnego_protocol`` "negotiate" | "kerberos" | "ntlm",
    ``spnego_options`` (``NegotiateOptions.use_negotiate`` for pyspnego's own SPNEGO+NTLM without a KDC).
    TLSNEGO: ``ca_pem`` (server chain) or ``pinned_server_der``, optional ``client_cert_file``/``client_key_file``
    (MutualSslNegotiated, §5), ``tls_maximum``.  ``value_type`` overrides the §1.1 ValueType (tests of §9.4).
    ``strict`` additionally demands WCF's exact element order of every reply (negotiation_driver_shape).
    """

    def __init__(
        self,
        mechanism: str,
        version: str = "1.3",
        soap: str = "1.2",
        key_size: int = BASIC256_KEY_BITS,
        *,
        to: str = "http://127.0.0.1/service",
        username: str | None = None,
        password: str | None = None,
        hostname: str = "unspecified",
        service: str = "host",
        spnego_protocol: str = "negotiate",
        spnego_options: NegotiateOptions = NegotiateOptions.none,
        require_mutual_auth: bool = True,
        ca_pem: str | None = None,
        pinned_server_der: bytes | None = None,
        client_cert_file: str | None = None,
        client_key_file: str | None = None,
        tls_maximum: ssl.TLSVersion | None = None,
        value_type: str | None = None,
        strict: bool = False,
    ) -> None:
        if mechanism not in WRAP_URIS:
            raise ValueError(f"unknown mechanism {mechanism!r}")
        self.mechanism, self.version, self.soap, self.key_size, self.to = (
            mechanism,
            VERSIONS[version],
            soap,
            key_size,
            to,
        )
        self.value_type = value_type if value_type is not None else self.version.value_type(mechanism)
        self._spnego = (username, password, hostname, service, spnego_protocol, spnego_options, require_mutual_auth)
        self._tls = (ca_pem, pinned_server_der, client_cert_file, client_key_file, tls_maximum)
        self.strict = strict

    def _initiator(self) -> Initiator:
        if self.mechanism == "spnego":
            user, password, host, service, protocol, options, mutual = self._spnego
            return SpnegoInitiator(user, password, host, service, protocol, options, mutual)
        ca_pem, pinned, cert, key, maximum = self._tls
        return TlsInitiator(tls_client_context(ca_pem, cert, key, maximum), pinned)

    def _send(self, post: Post, action: str, body: etree._Element) -> tuple[str, bytes]:
        message_id = f"urn:uuid:{uuid.uuid4()}"
        return message_id, post(envelope(self.soap, action, body, message_id=message_id, to=self.to), action)

    def negotiate(self, post: Post) -> DriverResult:
        """Run the legs until the service's RSTRC (§1.3 steps 1-4) and finish (§1.3 step 3 "Finish")."""
        version, mech = self.version, self._initiator()
        context = f"uuid-{uuid.uuid4()}-1"  # §1.3 step 1 (any string works, §1.4)
        first = mech.step(None)
        if first is None:
            raise DriverError("the mechanism produced no first token")
        request = rst(version, context, self.key_size, self.value_type, first)
        hashed = [c14n(request)]  # §3: the RST as sent
        legs = ["RST"]
        action = version.rst_action
        while len(legs) < MAX_LEGS:
            message_id, reply = self._send(post, action, request)
            env = split_envelope(reply)
            if env.soap != self.soap:
                raise DriverError("reply SOAP version differs from the request's")
            if header_text(env, "RelatesTo") != message_id:
                raise DriverError("reply RelatesTo is not the request MessageID (§1.2)")
            name = etree.QName(env.body).localname
            if name == "Fault":
                raise read_fault(env)
            problems = shape_problems(env.body, version) if self.strict else []
            if problems:
                raise DriverError("not WCF's shape: " + "; ".join(problems))
            if env.body.tag == version.t("RequestSecurityTokenResponseCollection"):  # §1.3: final by body element
                legs.append("RSTRC")
                return self._finish(mech, read_final(env.body, version, context, self.value_type), hashed, legs)
            if env.body.tag != version.t("RequestSecurityTokenResponse"):
                raise DriverError(f"unexpected reply body {name}")
            legs.append("RSTR")
            if env.body.get("Context") != context:
                raise DriverError("RSTR Context differs from the client's Context (§1.3 step 3)")
            exchange = read_binary_exchange(env.body, version)
            if exchange is None or exchange[0] != self.value_type:
                raise DriverError("intermediate RSTR without a BinaryExchange of the client's ValueType (§1.3 step 3)")
            hashed.append(c14n(env.body))  # §3: intermediate RSTR as received
            out = mech.step(exchange[1])
            if out is None:
                raise DriverError("SSPI has nothing to send after an intermediate leg")
            request = rstr_leg(version, context, self.value_type, out)
            hashed.append(c14n(request))  # §3: client RSTR as sent
            legs.append("RSTR")
            action = version.rstr_action
        raise DriverError(f"no final leg after {MAX_LEGS} messages")

    def _finish(self, mech: Initiator, final: FinalLeg, hashed: list[bytes], legs: list[str]) -> DriverResult:
        """§1.3 "Finish": last blob, SSPI validation, proof method, unwrap, authenticator, key length."""
        issued = final.issued
        if issued.final_blob is not None and mech.step(issued.final_blob) is not None:
            raise DriverError("SSPI wants to send after the final leg")
        if not mech.complete:
            raise DriverError("final leg but SSPI is not complete (§1.3 step 3)")
        mech.validate()
        if issued.wrap_uri != WRAP_URIS[self.mechanism]:
            raise DriverError("proof EncryptionMethod is not the mechanism's wrap URI (§2.1)")
        key = mech.unwrap(issued.cipher)
        expected = combined_hash(key, [*hashed, c14n(rstr1_for_hash(final.rstr1, self.version))])
        if len(final.authenticator) != len(expected) or not hmac.compare_digest(final.authenticator, expected):
            raise DriverError("RSTRAuthenticatorIncorrect: CombinedHash mismatch (§3)")
        if len(key) * 8 != BASIC256_KEY_BITS:  # the suite's rule, whatever KeySize the RST asked for
            raise DriverError("proof key length is not allowed by Basic256 (§1.3 step 3)")
        return DriverResult(
            etree.tostring(final.sct),
            issued.identifier,
            key,
            (issued.created, issued.expires),
            tuple(legs),
            issued.sct_id,
            final.rstr1.get("Context", ""),
            issued.final_blob is not None,
        )


def http_poster(url: str, soap: str, timeout: float = 30.0) -> Post:
    """``post`` over HTTP: SOAP 1.1 text/xml + SOAPAction, SOAP 1.2 application/soap+xml; action=...; fault bodies
    (HTTP 500) are returned like any other reply."""

    def post(data: bytes, action: str) -> bytes:
        if soap == "1.1":
            headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{action}"'}
        else:
            headers = {"Content-Type": f'application/soap+xml; charset=utf-8; action="{action}"'}
        request = urllib.request.Request(url, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return bytes(response.read())
        except urllib.error.HTTPError as exc:
            return bytes(exc.read())

    return post
