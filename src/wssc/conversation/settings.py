"""How a service runs its security contexts: protocol version, entropy, key size, lifetimes, protection, and
the bootstrap binding it publishes.

One source of truth: :attr:`ServiceSettings.policy` and :attr:`ServiceSettings.bootstrap` decide both what
:func:`~wssc.conversation.policy_writer.service_policy` publishes at ``?wsdl`` and what the service demands
of every request (:meth:`ServiceSettings.request_requirements`), so a client weaker than the published policy
is refused rather than served.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

from wssc.conversation.bootstrap import BOOTSTRAP_NAMES, MUTUAL_CERTIFICATE
from wssc.conversation.context import CONTEXT_LIFETIME, KEY_ROLLOVER_WINDOW
from wssc.conversation.negotiation import NEGOTIATED_BOOTSTRAPS
from wssc.conversation.sealing import ContextSeal
from wssc.security.policy import ProtectionOrder, ProtectionPolicy, Requirements
from wssc.trust.entropy import EntropyMode
from wssc.versions import SC_1_3, SCVersion

#: How an EncryptedKey must name the service certificate: the published ``sp:X509Token`` (and the
#: MutualCertificate ``sp:RecipientToken``) say ``sp:RequireThumbprintReference`` (WS-SP 1.2 section 5.4.3),
#: as WCF publishes for a service certificate that is never sent (``IncludeToken/Never``).
SERVICE_CERTIFICATE_REFERENCES: Final = frozenset({"thumbprint"})


def encrypts_signature(policy: ProtectionPolicy) -> bool:
    """``sp:EncryptSignature`` as wssc sends it: the signature of a sign-then-encrypt message is encrypted
    (WCF's ``SignBeforeEncryptAndEncryptSignature``; WCF has no encrypt-before-sign variant of it)."""
    order = policy.order is ProtectionOrder.SIGN_BEFORE_ENCRYPT
    return policy.sign and policy.encrypt and policy.encrypt_signature and order


@dataclass(frozen=True)
class ServiceSettings:
    version: SCVersion = SC_1_3
    entropy_mode: EntropyMode = EntropyMode.COMBINED
    key_size: int = 256
    context_lifetime: timedelta = CONTEXT_LIFETIME
    rollover: timedelta = KEY_ROLLOVER_WINDOW
    #: the binding of every message, both directions: published as the context's SymmetricBinding and its
    #: bootstrap's, applied to responses, and demanded of requests (:meth:`request_requirements`)
    policy: ProtectionPolicy = field(default_factory=ProtectionPolicy)
    #: the one bootstrap binding the service publishes and accepts (a name of
    #: :data:`~wssc.conversation.bootstrap.BOOTSTRAP_NAMES`, or ``spnego``/``tlsnego``, which need the service's
    #: :class:`~wssc.conversation.negotiation.Negotiator`): a MutualCertificate service refuses anonymous
    #: and username clients, a UserNameForCertificate service anonymous ones, a certificate-endorsed one
    #: unendorsed ones.  None: every client the credentials can authenticate, and the policy published is
    #: the one the credentials suggest (users: UserName; trusted certificates: endorsed; else anonymous)
    bootstrap: str | None = None
    #: application messages under a context may carry unsigned WS-Addressing headers (they are then never
    #: used for routing); published as the endpoint's ``sp:SignedParts`` naming the Body alone.  Bootstrap
    #: messages sign them whatever this says, as their policy publishes.
    unsigned_addressing: bool = False
    #: accept application messages protected by the bootstrap binding alone (WCF establishSecurityContext=false),
    #: or by a negotiated context
    accept_bootstrap_messages: bool = False
    #: issue stateless contexts: each SCT carries its context as a cookie sealed with this key, which
    #: every node of the service holds; nothing is stored (see :mod:`wssc.conversation.stateless`)
    stateless: ContextSeal | None = None
    #: SOAP headers (Clark names) the application understands: any other header marked mustUnderstand for
    #: this service is refused with SOAP's MustUnderstand fault (WS-Addressing and WS-Security are understood)
    understood_headers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        names = (*BOOTSTRAP_NAMES, *NEGOTIATED_BOOTSTRAPS)
        if self.bootstrap is not None and self.bootstrap not in names:
            raise ValueError(f"unknown bootstrap {self.bootstrap!r}; one of {', '.join(names)}")

    def request_requirements(self, *, bootstrap: bool) -> Requirements:
        """What a request must show, read off the policy this service publishes (WS-SP 1.2 sections 4, 6, 7):
        the suite's algorithms (digest, signature, encryption and, for bootstrap messages, the key transport
        of the EncryptedKey), ``sp:RequireDerivedKeys``, ``sp:EncryptSignature``, ``sp:IncludeTimestamp``
        (signed), SignedParts (Body and every WS-Addressing header) and EncryptedParts (Body); a bootstrap's
        EncryptedKey names the service certificate by thumbprint.

        ``bootstrap``: a request carrying an EncryptedKey to the service certificate (Issue, Validate,
        bootstrap-protected application messages); else a request under a security context.  The
        MutualCertificate bootstrap signs with the client's certificate, so no derived keys are published or
        demanded for it (WCF's MutualCertificate binding element: ``requireDerivedKeys=false``); nor of any
        bootstrap message when :attr:`bootstrap` is None, since a MutualCertificate client may come."""
        policy = self.policy
        mutual = bootstrap and self.bootstrap in (None, MUTUAL_CERTIFICATE)
        addressing = policy.sign_addressing_headers and (bootstrap or not self.unsigned_addressing)
        return Requirements(
            signature=policy.sign,
            signed_body=policy.sign and policy.sign_body,
            timestamp=policy.include_timestamp,
            signed_timestamp=policy.sign,
            signed_addressing_headers=policy.sign and addressing,
            encrypted_body=policy.encrypt,
            derived_keys=policy.derived_keys and not mutual,
            suite=policy.suite,
            encrypted_signature=encrypts_signature(policy),
            key_references=SERVICE_CERTIFICATE_REFERENCES,
        )
