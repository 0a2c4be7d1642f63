"""Which X.509 certificates a service believes (WSS X.509 Token Profile 1.1 section 3.3.3 leaves it to the
recipient; WCF's ``X509CertificateValidationMode``: None, PeerTrust, ChainTrust, PeerOrChainTrust).

A signature by a certificate's key proves possession of that key, not who holds it.  A service turns a
certificate into an identity claim only when it trusts the certificate: pinned (``peers``), or issued
under one of its ``anchors`` (RFC 5280 path validation by `cryptography`'s verifier, at the message
time).  With neither, every certificate is accepted, as WCF's ``None`` mode does, and the claim says
only which key signed.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID

from wssc.errors import FailedAuthentication

#: WCF's default ``X509ChainPolicy`` has no depth bound of its own; RFC 5280 none either.  Eight keeps a
#: hostile intermediate list from costing more than any real enterprise PKI needs.
MAX_CHAIN_DEPTH: Final = 8


def _client_usage(_policy: object, _cert: x509.Certificate, usage: x509.ExtendedKeyUsage | None) -> None:
    """A client certificate's extended key usage, when it states one, includes client authentication."""
    if usage is not None and not any(
        oid in (ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE) for oid in usage
    ):
        raise ValueError("the certificate is not for client authentication")


def _not_a_ca(_policy: object, _cert: x509.Certificate, constraints: x509.BasicConstraints | None) -> None:
    if constraints is not None and constraints.ca:
        raise ValueError("a CA certificate is not a client certificate")


def _end_entity_policy() -> verification.ExtensionPolicy:
    """RFC 5280 for the client certificate, without the Web PKI's subjectAltName requirement (client
    certificates of Windows domains name their subject in the DN)."""
    return (
        verification.ExtensionPolicy.permit_all()
        .may_be_present(x509.ExtendedKeyUsage, verification.Criticality.AGNOSTIC, _client_usage)
        .may_be_present(x509.BasicConstraints, verification.Criticality.AGNOSTIC, _not_a_ca)
    )


@dataclass(frozen=True)
class CertificateTrust:
    """PeerTrust (``peers``), ChainTrust (``anchors``, with ``intermediates`` a message does not carry),
    or both (PeerOrChainTrust).  ``CertificateTrust()`` trusts nothing but is never built by default:
    ``None`` where a trust is expected means WCF's ``None`` mode."""

    peers: Sequence[x509.Certificate] = ()
    anchors: Sequence[x509.Certificate] = ()
    intermediates: Sequence[x509.Certificate] = field(default=(), repr=False)

    def check(self, certificate: x509.Certificate, now: datetime) -> None:
        """Accept ``certificate`` or raise :class:`FailedAuthentication` (with no detail for the peer)."""
        fingerprint = certificate.fingerprint(hashes.SHA256())
        if any(hmac.compare_digest(fingerprint, peer.fingerprint(hashes.SHA256())) for peer in self.peers):
            return
        if self.anchors:
            verifier = (
                verification.PolicyBuilder()
                .store(verification.Store(list(self.anchors)))
                .time(now)
                .max_chain_depth(MAX_CHAIN_DEPTH)
                .extension_policies(
                    ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(), ee_policy=_end_entity_policy()
                )
                .build_client_verifier()
            )
            try:
                verifier.verify(certificate, list(self.intermediates))
            except verification.VerificationError:
                pass
            else:
                return
        raise FailedAuthentication("the certificate is not trusted")
