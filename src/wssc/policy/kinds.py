"""The kinds of WS-SecurityPolicy assertions: security bindings, token assertions and where they are used, token
inclusion, layouts and supporting-token categories (WS-SP 1.2 sections 5-8), as :mod:`wssc.policy.security_policy`
models them and :mod:`wssc.policy.reader` and :mod:`wssc.policy.writer` name them.
"""

from __future__ import annotations

from enum import Enum
from typing import Final


class BindingKind(Enum):
    """WS-SP 1.2 sections 7.3-7.5."""

    TRANSPORT = "TransportBinding"
    SYMMETRIC = "SymmetricBinding"
    ASYMMETRIC = "AsymmetricBinding"


class TokenKind(Enum):
    """Token assertions (WS-SP 1.2 section 5.4; ``SslContextToken`` is WCF's ``mssp`` TLSNEGO token)."""

    SECURE_CONVERSATION = "SecureConversationToken"
    SPNEGO_CONTEXT = "SpnegoContextToken"
    SSL_CONTEXT = "SslContextToken"
    SECURITY_CONTEXT = "SecurityContextToken"
    X509 = "X509Token"
    USERNAME = "UsernameToken"
    KERBEROS = "KerberosToken"
    ISSUED = "IssuedToken"
    HTTPS = "HttpsToken"
    SAML = "SamlToken"
    REL = "RelToken"
    KEY_VALUE = "KeyValueToken"
    OTHER = "other"


#: Token kinds that are security contexts (WS-SC): their version follows the SP namespace (SPEC-NOTES section 11).
CONTEXT_KINDS: Final = frozenset(
    {TokenKind.SECURE_CONVERSATION, TokenKind.SPNEGO_CONTEXT, TokenKind.SSL_CONTEXT, TokenKind.SECURITY_CONTEXT}
)
#: The negotiation mechanisms, as :class:`~wssc.policy.security_policy.NegotiationPolicy` and
#: :class:`~wssc.policy.writer.PublishedPolicy` name them: SPNEGO (RFC 4178) and WCF's TLSNEGO (TLS handshake
#: records), whose ``wst:BinaryExchange`` ValueTypes are :data:`wssc.trust.negotiation.SPNEGO` and ``TLSNEGO``.
SPNEGO_MECHANISM: Final = "spnego"
TLSNEGO_MECHANISM: Final = "tlsnego"
#: Security contexts negotiated over ``wst:BinaryExchange`` (NEGOTIATION.md section 1), by mechanism.
NEGOTIATED_KINDS: Final = {TokenKind.SPNEGO_CONTEXT: SPNEGO_MECHANISM, TokenKind.SSL_CONTEXT: TLSNEGO_MECHANISM}


class IncludeToken(Enum):
    """``sp:IncludeToken`` (WS-SP 1.2 section 5.1.1); absent means Always."""

    NEVER = "Never"
    ONCE = "Once"
    ALWAYS_TO_RECIPIENT = "AlwaysToRecipient"
    ALWAYS_TO_INITIATOR = "AlwaysToInitiator"
    ALWAYS = "Always"


class Layout(Enum):
    """``sp:Layout`` (WS-SP 1.2 section 6.7)."""

    STRICT = "Strict"
    LAX = "Lax"
    LAX_TS_FIRST = "LaxTsFirst"
    LAX_TS_LAST = "LaxTsLast"


class TokenRole(Enum):
    """Where a binding uses a token (WS-SP 1.2 sections 7.3-7.5)."""

    TRANSPORT = "TransportToken"
    PROTECTION = "ProtectionToken"
    SIGNATURE = "SignatureToken"
    ENCRYPTION = "EncryptionToken"
    INITIATOR = "InitiatorToken"
    INITIATOR_SIGNATURE = "InitiatorSignatureToken"
    INITIATOR_ENCRYPTION = "InitiatorEncryptionToken"
    RECIPIENT = "RecipientToken"
    RECIPIENT_SIGNATURE = "RecipientSignatureToken"
    RECIPIENT_ENCRYPTION = "RecipientEncryptionToken"


class SupportingCategory(Enum):
    """Supporting token assertions (WS-SP 1.2 section 8)."""

    SUPPORTING = "SupportingTokens"
    SIGNED = "SignedSupportingTokens"
    ENDORSING = "EndorsingSupportingTokens"
    SIGNED_ENDORSING = "SignedEndorsingSupportingTokens"
    SIGNED_ENCRYPTED = "SignedEncryptedSupportingTokens"
    ENCRYPTED = "EncryptedSupportingTokens"
    ENDORSING_ENCRYPTED = "EndorsingEncryptedSupportingTokens"
    SIGNED_ENDORSING_ENCRYPTED = "SignedEndorsingEncryptedSupportingTokens"
