"""X.509 certificates as WS-Security tokens (X.509 Token Profile 1.1): BinarySecurityToken and references.

Certificates and keys are `cryptography` objects; this module only maps them to and from the WS-Security
forms (BinarySecurityToken, ThumbprintSHA1, SubjectKeyIdentifier, IssuerSerial).
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import secrets
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm as UnsupportedAlgorithmError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree

from wssc import namespaces as ns
from wssc.errors import InvalidSecurityToken, UnsupportedSecurityToken
from wssc.primitives.xml import Element, b64decode, b64encode
from wssc.tokens.reference import IssuerSerial, KeyIdentifier, Reference, SecurityTokenReference

BST_TAG = ns.qn(ns.WSSE, "BinarySecurityToken")


def thumbprint_sha1(cert: x509.Certificate) -> bytes:
    """SHA-1 of the DER certificate (ThumbprintSHA1, WSS 1.1 X.509 profile section 3.2)."""
    return hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).digest()  # noqa: S324 - protocol-defined


def subject_key_identifier(cert: x509.Certificate) -> bytes | None:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    except x509.ExtensionNotFound:
        return None
    return ext.value.digest


def issuer_serial(cert: x509.Certificate) -> IssuerSerial:
    return IssuerSerial(cert.issuer.rfc4514_string(), cert.serial_number)


def rsa_public_key(cert: x509.Certificate) -> rsa.RSAPublicKey:
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithmError):  # a key type cryptography does not know (found by fuzzing)
        raise UnsupportedSecurityToken("only RSA certificates are supported") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise UnsupportedSecurityToken("only RSA certificates are supported")
    return key


@dataclass(frozen=True, eq=False)
class X509Token:
    certificate: x509.Certificate
    wsu_id: str | None = None

    def to_element(self, parent: Element | None = None) -> Element:
        el = etree.Element(BST_TAG) if parent is None else etree.SubElement(parent, BST_TAG)
        el.set("ValueType", ns.X509V3)
        el.set("EncodingType", ns.BASE64_ENCODING)
        if self.wsu_id:
            el.set(ns.WSU_ID, self.wsu_id)
        el.text = b64encode(self.certificate.public_bytes(serialization.Encoding.DER))
        return el

    @classmethod
    def for_message(cls, certificate: x509.Certificate) -> X509Token:
        """A BinarySecurityToken to carry in one message, under a fresh wsu:Id."""
        return cls(certificate, "X509-" + secrets.token_hex(8))

    def to_xml(self) -> str:
        """Self-contained XML text of :meth:`to_element`."""
        return etree.tostring(self.to_element(), encoding="unicode")

    @classmethod
    def from_element(cls, el: Element) -> X509Token:
        if el.tag != BST_TAG:
            raise InvalidSecurityToken(f"not a BinarySecurityToken: {el.tag}")
        if el.get("ValueType") not in (ns.X509V3, ns.X509V1):  # v1: what WSS4J writes for v1 certificates
            raise UnsupportedSecurityToken(f"BinarySecurityToken ValueType {el.get('ValueType')!r}")
        der = b64decode(el.text, "BinarySecurityToken")
        try:
            cert = x509.load_der_x509_certificate(der)
            # cryptography parses names lazily: read them now, so a malformed one is this token's error and
            # not a TypeError where a claim is made (found by fuzzing)
            cert.subject.rfc4514_string()
            cert.issuer.rfc4514_string()
        except (ValueError, TypeError, x509.InvalidVersion):  # InvalidVersion is no ValueError (fuzzing again)
            raise InvalidSecurityToken("BinarySecurityToken is not a DER certificate") from None
        return cls(cert, el.get(ns.WSU_ID))

    def reference(self, style: str = "thumbprint") -> SecurityTokenReference:
        """An STR to this certificate: ``thumbprint``, ``issuer-serial``, ``ski`` or ``bst`` (the local BST)."""
        if style == "thumbprint":
            return SecurityTokenReference(KeyIdentifier(ns.THUMBPRINT_SHA1, thumbprint_sha1(self.certificate)))
        if style == "issuer-serial":
            return SecurityTokenReference(issuer_serial(self.certificate))
        if style == "ski":
            ski = subject_key_identifier(self.certificate)
            if ski is None:
                raise ValueError("certificate has no SubjectKeyIdentifier")
            return SecurityTokenReference(KeyIdentifier(ns.X509_SKI, ski))
        if style == "bst":
            if not self.wsu_id:
                raise ValueError("a BinarySecurityToken reference needs a wsu:Id")
            return SecurityTokenReference(Reference("#" + self.wsu_id, ns.X509V3))
        raise ValueError(f"unknown X.509 reference style {style!r}")


def matches(cert: x509.Certificate, ref: SecurityTokenReference) -> bool:
    """Whether an STR (thumbprint, SKI or issuer-serial) designates ``cert``."""
    target = ref.target
    if isinstance(target, KeyIdentifier):
        if target.value_type == ns.THUMBPRINT_SHA1:
            return target.value == thumbprint_sha1(cert)
        if target.value_type == ns.X509_SKI:
            return target.value == subject_key_identifier(cert)
        return False
    if isinstance(target, IssuerSerial):
        return target.serial == cert.serial_number and _same_name(target.issuer, cert)
    return False


def _same_name(issuer: str, cert: x509.Certificate) -> bool:
    # Peers write issuer names in RFC 2253 or .NET order; compare as sets of RDN strings.
    def parts(name: str) -> set[str]:
        return {p.strip().replace(" ", "") for p in name.split(",") if p.strip()}

    return parts(issuer) == parts(cert.issuer.rfc4514_string())


def self_signed(
    common_name: str, *, days: int = 365, key_size: int = 2048, ip_address: str | None = None
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """A self-signed RSA certificate for development and tests (``wssc serve`` without ``--cert``).

    With ``ip_address`` it is also a TLS server certificate for that address that clients can trust
    directly (subjectAltName, CA:TRUE)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if ip_address is not None:
        san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip_address))])
        cert = cert.add_extension(san, critical=False)
        cert = cert.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    return cert.sign(key, hashes.SHA256()), key
