"""How a client runs its security context with one service: protocol and SOAP version, protection, entropy,
key size, renewal, and where the token requests go.

:class:`ClientSettings` is the client's twin of :class:`~wssc.conversation.settings.ServiceSettings`: one
frozen value, so a configured client can be described, compared and logged.  It holds configuration only:
the bootstrap binding (which holds passwords and private keys), the clock and the key-log callback are
given to :class:`~wssc.conversation.client.ClientSession` beside it, so its ``repr`` carries no secret.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from wssc.conversation.context import CLIENT_RENEWAL_INTERVAL
from wssc.security.policy import TRANSPORT_POLICY, TRANSPORT_REQUIREMENTS, ProtectionPolicy, Requirements
from wssc.security.soap import SOAP12, SOAPVersion
from wssc.trust import actions
from wssc.trust.elements import Lifetime, RequestType
from wssc.trust.entropy import EntropyMode, client_entropy
from wssc.trust.rst import RequestSecurityToken
from wssc.versions import SC_1_3, SCVersion

__all__ = ["DEFAULT_CLIENT_SETTINGS", "ClientSettings"]


@dataclass(frozen=True)
class ClientSettings:
    """A client's configuration; the defaults are WCF's ``WS2007HttpBinding`` with message security."""

    #: the WS-SecureConversation version (Feb 2005 or OASIS 1.3), which also fixes the WS-Trust namespace
    #: and actions of every token request (WS-SC 1.3 section 2)
    version: SCVersion = SC_1_3
    #: the SOAP version of every envelope (1.1 adds the ``SOAPAction`` HTTP header)
    soap: SOAPVersion = SOAP12
    #: how application and token messages under the context are protected (the context's
    #: ``sp:SymmetricBinding``, WS-SP 1.2 section 7.4); None: the default message protection, or
    #: :data:`~wssc.security.policy.TRANSPORT_POLICY` when :attr:`over_tls` (see :attr:`message_policy`)
    policy: ProtectionPolicy | None = None
    #: who contributes the key material (WS-Trust 1.3 section 4.4.1 / WS-SP 1.2 ``sp:Trust13``):
    #: client, server, or both combined with P_SHA1 (``ck:PSHA1``, WCF's default)
    entropy_mode: EntropyMode = EntropyMode.COMBINED
    #: the context key's size in bits (``wst:KeySize``, WS-Trust 1.3 section 4.4.2; WCF: 256)
    key_size: int = 256
    #: renew the key after this long (WCF ``LocalClientSecuritySettings.SessionKeyRenewalInterval``:
    #: 10 hours), or a minute before it expires, whichever is first (WS-SC 1.3 section 6)
    renewal_interval: timedelta = CLIENT_RENEWAL_INTERVAL
    #: False: protect application messages with the bootstrap binding itself, no context (WCF
    #: ``establishSecurityContext=false``)
    establish_security_context: bool = True
    #: a separate security token service that issues, renews and cancels the contexts (sharing the
    #: service's store; WS-SC 1.3 section 3.2); None when the service issues its own
    issuer_address: str | None = None
    #: TransportWithMessageCredential: HTTPS protects the messages; the context key signs the Timestamp
    #: (WS-SP 1.2 section 7.3, ``sp:TransportBinding``)
    over_tls: bool = False
    #: ask the service for a context this long (``wst:Lifetime``, WS-Trust 1.3 section 4.4.7): it may grant
    #: less, never more than its own bound; None asks for nothing and takes what the service gives
    requested_lifetime: timedelta | None = None

    @property
    def message_policy(self) -> ProtectionPolicy:
        """The protection applied under the context: :attr:`policy`, else the default for the transport."""
        if self.policy is not None:
            return self.policy
        return TRANSPORT_POLICY if self.over_tls else ProtectionPolicy()

    def response_requirements(self) -> Requirements:
        """What a response must show: over TLS the transport protects it; else the body is signed and
        encrypted as :attr:`message_policy` protects requests (WS-SP 1.2 sections 4.1-4.2)."""
        if self.over_tls:
            return TRANSPORT_REQUIREMENTS
        policy = self.message_policy
        return Requirements(encrypted_body=policy.encrypt, signed_body=policy.sign_body)

    def binding(self, operation: RequestType) -> actions.Binding:
        """WS-SC's own actions (``RST/SCT...``) with the service; WS-Trust's generic ones (``RST/Issue``...)
        with a separate security token service (WS-SC 1.3 section 3.2), and always for Validate."""
        if operation is RequestType.VALIDATE or (
            self.issuer_address is not None and operation is not RequestType.AMEND
        ):
            return actions.Binding.TRUST
        return actions.Binding.SCT

    def token_request(
        self, request_type: RequestType, clock: Callable[[], datetime], **fields: object
    ) -> RequestSecurityToken:
        """An Issue or Renew RST as configured (WS-Trust 1.3 section 4.4): client entropy unless the server
        supplies it all, ``wst:KeySize``, ``ck:PSHA1`` for combined entropy, and the requested lifetime
        (read off ``clock`` only when one is asked for)."""
        entropy = None if self.entropy_mode is EntropyMode.SERVER else client_entropy(self.key_size)
        combined = self.entropy_mode is EntropyMode.COMBINED
        lifetime = None
        if self.requested_lifetime is not None:
            now = clock()
            lifetime = Lifetime(now, now + self.requested_lifetime)
        return RequestSecurityToken(
            request_type=request_type,
            token_type=self.version.sct_token_type,
            context="uuid-" + str(uuid.uuid4()),
            entropy=entropy,
            key_size=self.key_size,
            computed_key_algorithm=self.version.ck_psha1 if combined else None,
            lifetime=lifetime,
            **fields,  # type: ignore[arg-type]
        )


#: The defaults, shared: a frozen value, safe as a default argument.
DEFAULT_CLIENT_SETTINGS: Final = ClientSettings()
