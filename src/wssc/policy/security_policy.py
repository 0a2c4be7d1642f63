"""WS-SecurityPolicy assertions as a typed model, and the wssc settings they imply (SPEC-NOTES section 11).

One :class:`SecurityPolicy` is one normal-form policy alternative (WS-Policy 1.5 section 4.1), read by
:mod:`wssc.policy.reader` from what :mod:`wssc.policy.ws_policy` normalises.  Each assertion is
matched by its own namespace, so documents mixing SP 1.1 (``2005/07``: WCF's Feb 2005 stack, WS-SC Feb 2005),
SP 1.2 (``200702``: WS-SC 1.3) and WCF's ``mssp`` extensions read as one model.  Whatever wssc cannot honour
is listed by :meth:`SecurityPolicy.unsupported`, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final, NamedTuple

from wssc import namespaces as ns
from wssc.policy.kinds import (
    CONTEXT_KINDS,
    NEGOTIATED_KINDS,
    BindingKind,
    IncludeToken,
    Layout,
    SupportingCategory,
    TokenKind,
    TokenRole,
)
from wssc.policy.parts import MessageParts
from wssc.policy.ws_policy import PolicyError
from wssc.primitives.algorithms import AlgorithmSuite
from wssc.security.policy import (
    TRANSPORT_POLICY,
    TRANSPORT_REQUIREMENTS,
    ProtectionOrder,
    ProtectionPolicy,
    Requirements,
)
from wssc.trust.entropy import EntropyMode
from wssc.versions import SC_1_3, SC_2005_02, SCVersion

__all__ = [
    "CONTEXT_KINDS",
    "NEGOTIATED_KINDS",
    "BindingKind",
    "IncludeToken",
    "Layout",
    "NegotiationPolicy",
    "SecurityPolicy",
    "SupportingCategory",
    "SupportingTokens",
    "TokenAssertion",
    "TokenKind",
    "TokenRole",
]


@dataclass(frozen=True)
class TokenAssertion:
    """A token assertion (WS-SP 1.2 section 5.4: SecureConversationToken 5.4.7, SpnegoContextToken 5.4.5,
    SecurityContextToken 5.4.6, HttpsToken 5.4.10)."""

    kind: TokenKind
    #: the assertion's Clark name; the SP namespace in force (its own, or its container's for ``mssp`` tokens)
    name: str
    sp_namespace: str
    include_token: IncludeToken | None = None
    require_derived_keys: bool = False
    require_implied_derived_keys: bool = False
    require_explicit_derived_keys: bool = False
    require_external_uri_reference: bool = False
    sc10_security_context_token: bool = False
    sc13_security_context_token: bool = False
    must_not_send_cancel: bool = False
    must_not_send_amend: bool = False
    must_not_send_renew: bool = False
    #: ``mssp:RequireClientCertificate`` (TLSNEGO), or an HttpsToken's client certificate requirement
    require_client_certificate: bool = False
    #: the ``sp:Issuer`` endpoint reference's address; ``sp:IssuerName`` (SP 1.2)
    issuer: str | None = None
    issuer_name: str | None = None
    #: further nested assertions understood: reference styles, token profiles, HTTP authentication
    options: frozenset[str] = frozenset()
    #: ``sp:BootstrapPolicy``: the policy of the RST/RSTR exchanges issuing the token (section 5.4.7)
    bootstrap: SecurityPolicy | None = None
    unknown: tuple[str, ...] = ()

    @property
    def derived_keys(self) -> bool:
        """Any of RequireDerivedKeys, RequireImpliedDerivedKeys, RequireExplicitDerivedKeys (section 5.4.7)."""
        return self.require_derived_keys or self.require_implied_derived_keys or self.require_explicit_derived_keys

    def sc_version(self) -> SCVersion | None:
        """The WS-SC version a context token implies: SC13/SC10SecurityContextToken when given, else the SP
        namespace (SP 1.2 goes with WS-SC 1.3, SP 2005/07 with Feb 2005).  None for other tokens."""
        if self.kind not in CONTEXT_KINDS:
            return None
        if self.sc13_security_context_token:
            return SC_1_3
        if self.sc10_security_context_token:
            return SC_2005_02
        return SC_1_3 if self.sp_namespace == ns.SP12 else SC_2005_02


@dataclass(frozen=True)
class SupportingTokens:
    """A supporting-token assertion (WS-SP 1.2 section 8): its tokens and the parts they cover."""

    category: SupportingCategory
    tokens: tuple[TokenAssertion, ...] = ()
    signed_parts: MessageParts | None = None
    encrypted_parts: MessageParts | None = None


#: What wssc cannot do with a token of this kind, wherever it appears.
_UNIMPLEMENTED: Final = (TokenKind.KERBEROS, TokenKind.SAML, TokenKind.REL, TokenKind.KEY_VALUE)
_TOKEN_GAPS: Final = {
    TokenKind.ISSUED: "tokens issued by a separate STS (IssuedToken) are not implemented",
    TokenKind.OTHER: "unknown token assertion",
    **{kind: f"{kind.value}s are not implemented" for kind in _UNIMPLEMENTED},
}
_SUITE_OPTION_GAP: Final = "algorithm suite option {} (wssc always uses exclusive c14n without normalisation)"
_SUPPORTING_PARTS_GAP: Final = (
    "parts a supporting token signs or encrypts itself (WS-SecurityPolicy 1.2 section 8) are not implemented"
)
_X509_ENDORSING: Final = ("EndorsingSupportingTokens", "SignedEndorsingSupportingTokens")
#: a client certificate endorses bootstrap messages (Issue), Amend and propagation, not application messages
_X509_ENDORSING_GAP: Final = (
    "wssc endorses application messages with a client certificate only in Amend and propagation"
)


#: Where a negotiated context token can sit (NEGOTIATION.md section 4): the symmetric binding's protection token
#: (WCF ``SspiNegotiated``, ``AnonymousForSslNegotiated``...), or a supporting token of a transport binding
#: (``SspiNegotiatedOverTransport``, WCF's TransportWithMessageCredential with Windows credentials).
_PLAIN: Final = frozenset({SupportingCategory.SUPPORTING, SupportingCategory.SIGNED})
_OVER_TRANSPORT: Final = _PLAIN | {SupportingCategory.ENDORSING, SupportingCategory.SIGNED_ENDORSING}
#: Where a UsernameToken rides along (WCF UserNameForSslNegotiated: SignedEncryptedSupportingTokens).
_USERNAME_CATEGORIES: Final = _PLAIN | {SupportingCategory.SIGNED_ENCRYPTED, SupportingCategory.ENCRYPTED}
_Placement = TokenRole | SupportingCategory | None


@dataclass(frozen=True)
class NegotiationPolicy:
    """How an endpoint's security context is negotiated (NEGOTIATION.md sections 1, 4, 5; WS-SP 1.2 section 5.4.5
    and WCF's ``mssp:SslContextToken``), as :meth:`SecurityPolicy.negotiation` reads it.

    ``mechanism`` is ``"spnego"`` (SpnegoContextToken) or ``"tlsnego"`` (SslContextToken).  ``token`` is the
    assertion as read (IncludeToken, RequireDerivedKeys, MustNotSend*, Issuer): WCF's SP 1.2 exporter writes
    MustNotSendCancel, MustNotSendAmend and MustNotSendRenew on every negotiated token, its SP 2005/07 exporter
    writes ``mssp:MustNotSendCancel`` only when the negotiated context is a cookie (RequireCancellation=false,
    section 4), so only in SP 2005/07 does MustNotSendCancel tell cookie mode.  ``policy`` is the alternative
    whose binding the negotiated context protects: the SecureConversationToken's bootstrap policy when
    ``establish_security_context`` (WCF's wsHttpBinding default: the negotiated context only protects the
    RST/SCT exchange), else the endpoint's own alternative, every application message then going under the
    negotiated context.  ``placement`` is where the token sits in ``policy``: the symmetric binding's
    ProtectionToken, or, when ``over_transport``, a supporting-token assertion of a TransportBinding (WCF's
    SspiNegotiatedOverTransport endorses with it).  ``require_client_certificate`` is MutualSslNegotiated
    (section 5); ``username_supporting`` is a UsernameToken supporting ``policy`` (WCF UserNameForSslNegotiated,
    section 5); ``version`` is that of the negotiation legs and the negotiated context: ``sp:Trust13``
    (WS-Trust 1.3) or ``sp:Trust10`` (Feb 2005) of ``policy``, else the token's SP namespace.
    """

    mechanism: str
    token: TokenAssertion
    policy: SecurityPolicy
    placement: TokenRole | SupportingCategory
    establish_security_context: bool
    over_transport: bool
    require_client_certificate: bool
    username_supporting: bool
    version: SCVersion

    def protection_policy(self) -> ProtectionPolicy:
        """The sender settings of the messages the negotiated context protects (:meth:`SecurityPolicy.protection_policy`
        of :attr:`policy`)."""
        return self.policy.protection_policy()


class _Negotiated(NamedTuple):
    """A negotiated context token found in an alternative (``depth`` 0) or its bootstraps (``outer``: the kind
    of token whose bootstrap it is in)."""

    policy: SecurityPolicy
    placement: _Placement
    token: TokenAssertion
    depth: int
    where: str
    outer: TokenKind | None


@dataclass(frozen=True)
class SecurityPolicy:
    """One policy alternative: a security binding, its tokens and the message protection it demands."""

    binding: BindingKind | None = None
    binding_namespace: str | None = None
    #: (role, token) pairs of the binding, in document order
    tokens: tuple[tuple[TokenRole, TokenAssertion], ...] = ()
    #: ``sp:AlgorithmSuite``: the name as written, its suite (None if wssc has none) and options (section 6.1)
    suite_name: str | None = None
    suite: AlgorithmSuite | None = None
    suite_options: frozenset[str] = frozenset()
    layout: Layout | None = None
    include_timestamp: bool = False
    encrypt_before_signing: bool = False
    encrypt_signature: bool = False
    protect_tokens: bool = False
    only_sign_entire_headers_and_body: bool = False
    #: ``sp:SignedParts`` / ``sp:EncryptedParts``, merged; None when absent
    signed_parts: MessageParts | None = None
    encrypted_parts: MessageParts | None = None
    supporting: tuple[SupportingTokens, ...] = ()
    #: token assertions standing alone in the alternative (policy fragments)
    bare_tokens: tuple[TokenAssertion, ...] = ()
    #: nested options of Wss10 / Wss11 / Trust10 / Trust13 (sections 9-10); None when absent
    wss10: frozenset[str] | None = None
    wss11: frozenset[str] | None = None
    trust10: frozenset[str] | None = None
    trust13: frozenset[str] | None = None
    using_addressing: bool = False
    #: Clark names of the assertions not understood (in the alternative, its binding or supporting tokens)
    unknown: tuple[str, ...] = ()

    def token(self, role: TokenRole) -> TokenAssertion | None:
        return next((t for r, t in self.tokens if r is role), None)

    @property
    def protection_token(self) -> TokenAssertion | None:
        return self.token(TokenRole.PROTECTION)

    @property
    def order(self) -> ProtectionOrder:
        """``sp:EncryptBeforeSigning`` or the default SignBeforeEncrypting (section 6.3)."""
        before = self.encrypt_before_signing
        return ProtectionOrder.ENCRYPT_BEFORE_SIGN if before else ProtectionOrder.SIGN_BEFORE_ENCRYPT

    def all_tokens(self) -> list[tuple[str, TokenAssertion]]:
        """Every token of this alternative (not of its bootstraps), with where it is used."""
        return [(placement.value if placement is not None else "policy", token) for placement, token in self._placed()]

    def _placed(self) -> list[tuple[_Placement, TokenAssertion]]:
        """Every token of this alternative with its role or supporting category (None: standing alone)."""
        found: list[tuple[_Placement, TokenAssertion]] = [(role, token) for role, token in self.tokens]
        found += [(group.category, token) for group in self.supporting for token in group.tokens]
        return found + [(None, token) for token in self.bare_tokens]

    def context_token(self) -> TokenAssertion | None:
        """The security-context token the endpoint's messages use: the binding's, else a supporting one."""
        return next((token for _, token in self.all_tokens() if token.kind in CONTEXT_KINDS), None)

    def sc_version(self) -> SCVersion | None:
        token = self.context_token()
        return token.sc_version() if token is not None else None

    def entropy_mode(self) -> EntropyMode:
        """Who supplies the key of an issued context (WS-SP 1.2 section 10; WS-Trust 1.3 sections 3.3, 4.4.3): read from
        the Trust13/Trust10 of the context token's bootstrap (the policy of the issuing exchange), else from
        this alternative's own; client and server entropy -> combined, client only -> client, else server."""
        context = self.context_token()
        bootstrap = context.bootstrap if context is not None else None
        trust = bootstrap._trust() if bootstrap is not None else None
        trust = trust if trust is not None else self._trust()
        client = trust is not None and "RequireClientEntropy" in trust
        server = trust is not None and "RequireServerEntropy" in trust
        if client and server:
            return EntropyMode.COMBINED
        return EntropyMode.CLIENT if client else EntropyMode.SERVER

    def _trust(self) -> frozenset[str] | None:
        return self.trust13 if self.trust13 is not None else self.trust10

    def _suite(self) -> AlgorithmSuite:
        if self.suite is None:
            raise PolicyError(f"algorithm suite {self.suite_name or '(none)'} is not supported")
        return self.suite

    def _key_token(self) -> TokenAssertion | None:
        if self.binding is BindingKind.ASYMMETRIC:
            return self.token(TokenRole.INITIATOR) or self.token(TokenRole.INITIATOR_SIGNATURE)
        return self.protection_token or self.token(TokenRole.SIGNATURE)

    def protection_policy(self) -> ProtectionPolicy:
        """wssc's sender settings for this alternative (WS-SP 1.2 sections 4 and 6-7).  SignedParts and
        EncryptedParts are applied when present (merge the operation's message policy in first); without
        them wssc's WCF-compatible defaults stay.  A transport binding gives :data:`TRANSPORT_POLICY`."""
        if self.binding is BindingKind.TRANSPORT:
            return replace(TRANSPORT_POLICY, suite=self._suite())
        if self.binding is None:
            raise PolicyError("the alternative has no security binding")
        signed, encrypted = self.signed_parts, self.encrypted_parts
        token = self._key_token()
        return ProtectionPolicy(
            suite=self._suite(),
            encrypt=encrypted is None or encrypted.body or bool(encrypted.headers),
            derived_keys=token is not None and token.derived_keys,
            encrypt_signature=self.encrypt_signature,
            order=self.order,
            include_timestamp=self.include_timestamp,
            sign_body=signed is None or signed.body,
            sign_addressing_headers=signed is None or signed.addressing() != "none",
            signed_headers=signed.named(addressing=False) if signed is not None else (),
            encrypted_headers=encrypted.named(addressing=True) if encrypted is not None else (),
            protect_tokens=self.protect_tokens,
        )

    def requirements(self) -> Requirements:
        """What a receiver demands of messages under this alternative.  Requirements can only insist on
        every WS-Addressing header or none, and on named headers being present: SignedParts headers that
        are signed only if present stay unchecked and are listed by :meth:`unsupported`."""
        if self.binding is BindingKind.TRANSPORT:
            return replace(TRANSPORT_REQUIREMENTS, timestamp=self.include_timestamp, suite=self._suite())
        if self.binding is None:
            raise PolicyError("the alternative has no security binding")
        signed, encrypted = self.signed_parts, self.encrypted_parts
        sign_body = signed is None or signed.body
        encrypt_body = encrypted is not None and encrypted.body
        token = self._key_token()
        return Requirements(
            signed_body=sign_body,
            protected_body=sign_body or encrypt_body,
            timestamp=self.include_timestamp,
            signed_addressing_headers=signed is None or signed.addressing() == "all",
            encrypted_body=encrypt_body,
            derived_keys=token is not None and token.derived_keys,
            suite=self._suite(),
        )

    def negotiation(self) -> NegotiationPolicy | None:
        """How the context of this alternative is negotiated (see :class:`NegotiationPolicy`), None when no
        SpnegoContextToken or SslContextToken is in it or its bootstrap.  A negotiated token elsewhere (another
        binding's token, two of them, one in a bootstrap's bootstrap) or with nested assertions that do not
        belong to it is a :class:`PolicyError` naming it."""
        found: list[_Negotiated] = []
        self._negotiated("", 0, None, found)
        if not found:
            return None
        if len(found) > 1:
            raise PolicyError("more than one negotiated context token: " + ", ".join(f.where for f in found))
        (at,) = found
        token, policy, placement = at.token, at.policy, at.placement
        _check_negotiated(token, at.where)
        symmetric = policy.binding is BindingKind.SYMMETRIC and placement is TokenRole.PROTECTION
        transport = policy.binding is BindingKind.TRANSPORT and placement in _OVER_TRANSPORT
        nested = at.depth > 1 or (at.depth == 1 and at.outer is not TokenKind.SECURE_CONVERSATION)
        if nested or placement is None or not (symmetric or transport):
            binding = policy.binding.value if policy.binding is not None else "no binding"
            raise PolicyError(f"{at.where}: a negotiated context token there ({binding}) is not a binding wssc reads")
        if policy.trust13 is not None or policy.trust10 is not None:
            version = SC_1_3 if policy.trust13 is not None else SC_2005_02
        else:
            version = token.sc_version() or SC_1_3
        username = any(
            group.category in _USERNAME_CATEGORIES and any(t.kind is TokenKind.USERNAME for t in group.tokens)
            for group in policy.supporting
        )
        return NegotiationPolicy(
            mechanism=NEGOTIATED_KINDS[token.kind],
            token=token,
            policy=policy,
            placement=placement,
            establish_security_context=at.depth == 1,
            over_transport=transport,
            require_client_certificate=token.require_client_certificate,
            username_supporting=username,
            version=version,
        )

    def _negotiated(self, where: str, depth: int, outer: TokenKind | None, found: list[_Negotiated]) -> None:
        for placement, token in self._placed():
            label = f"{where}{placement.value if placement is not None else 'policy'} {token.kind.value}"
            if token.kind in NEGOTIATED_KINDS:
                found.append(_Negotiated(self, placement, token, depth, label, outer))
            elif token.bootstrap is not None:
                token.bootstrap._negotiated(label + " > bootstrap: ", depth + 1, token.kind, found)

    def unsupported(self) -> tuple[str, ...]:
        """What of this alternative (bootstraps included) wssc cannot do, one line per gap."""
        gaps: list[str] = []
        self._gaps("", gaps)
        try:
            self.negotiation()
        except PolicyError as error:
            gaps.append(str(error))
        return tuple(dict.fromkeys(gaps))

    def _gaps(self, where: str, gaps: list[str], bootstrap: bool = False) -> None:
        if self.suite_name is not None and self.suite is None:
            gaps.append(f"{where}algorithm suite {self.suite_name} is not implemented")
        gaps += [where + _SUITE_OPTION_GAP.format(option) for option in sorted(self.suite_options)]
        if self.layout is Layout.LAX_TS_LAST:
            gaps.append(f"{where}Layout LaxTsLast (wssc writes the Timestamp first)")
        for label, parts in (("SignedParts", self.signed_parts), ("EncryptedParts", self.encrypted_parts)):
            if parts is not None:
                gaps += [where + label + ": " + gap for gap in parts.gaps(signed=label == "SignedParts")]
        for option in ("MustSupportClientChallenge", "MustSupportServerChallenge", "MustSupportInteractiveChallenge"):
            if option in (self._trust() or ()):
                gaps.append(f"{where}WS-Trust {option} (challenges are not implemented)")
        for group in self.supporting:
            if group.signed_parts is not None or group.encrypted_parts is not None:
                gaps.append(f"{where}{group.category.value}: {_SUPPORTING_PARTS_GAP}")
        for place, token in self.all_tokens():
            _token_gaps(token, f"{where}{place} {token.kind.value}", gaps)
            if token.kind is TokenKind.X509 and place in _X509_ENDORSING and not bootstrap:
                gaps.append(f"{where}{place} X509Token: {_X509_ENDORSING_GAP}")
        gaps += [f"{where}assertion {name} not understood" for name in self.unknown]


def _token_gaps(token: TokenAssertion, where: str, gaps: list[str]) -> None:
    if token.kind in _TOKEN_GAPS:
        gaps.append(f"{where}: {_TOKEN_GAPS[token.kind]}")
    if token.require_implied_derived_keys:
        gaps.append(f"{where}: RequireImpliedDerivedKeys (wssc sends explicit DerivedKeyTokens)")
    gaps += [
        f"{where}: HTTP {o.removeprefix('Http')} is not configured by wssc"
        for o in sorted(token.options)
        if o in ("HttpBasicAuthentication", "HttpDigestAuthentication")
    ]
    gaps += [f"{where}: assertion {name} not understood" for name in token.unknown]
    if token.bootstrap is not None:
        token.bootstrap._gaps(f"{where} > bootstrap: ", gaps, bootstrap=True)


def _check_negotiated(token: TokenAssertion, where: str) -> None:
    """A SpnegoContextToken holds RequireDerivedKeys (or its implied/explicit forms), MustNotSendCancel, Amend and
    Renew (WS-SP 1.2 section 5.4.5); WCF's SslContextToken the same and ``mssp:RequireClientCertificate``."""
    foreign = sorted(token.options)
    flags = {
        "SC10SecurityContextToken": token.sc10_security_context_token,
        "SC13SecurityContextToken": token.sc13_security_context_token,
        "RequireExternalUriReference": token.require_external_uri_reference,
    }
    foreign += [name for name, present in flags.items() if present]
    if token.unknown or foreign:
        raise PolicyError(f"{where}: {', '.join([*token.unknown, *foreign])} not understood in a negotiated token")
