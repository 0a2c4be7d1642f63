"""Reading WS-SecurityPolicy assertions (SP 1.1 ``2005/07``, SP 1.2 ``200702`` and WCF's ``mssp``) from a
normal-form alternative into :class:`~wssc.policy.security_policy.SecurityPolicy`.

Every assertion is matched by its own namespace (WCF's secure-conversation policy has an SP 1.2 binding around an
SP 2005/07 bootstrap); an assertion this module does not know is kept by name in ``unknown``, never dropped.
Section numbers are those of WS-SecurityPolicy 1.2.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from typing import Final, TypeVar, cast

from lxml import etree

from wssc import namespaces as ns
from wssc.policy.kinds import BindingKind, IncludeToken, Layout, SupportingCategory, TokenKind, TokenRole
from wssc.policy.parts import HeaderPart, MessageParts
from wssc.policy.security_policy import SecurityPolicy, SupportingTokens, TokenAssertion
from wssc.policy.ws_policy import SP_NAMESPACES, Assertion, PolicyError, child_elements
from wssc.primitives.algorithms import SUITES

#: WS-Addressing policy assertions: WSDL Binding 1.0 ``wsaw:UsingAddressing``, the 2004/08 submission's
#: ``wsap:UsingAddressing`` and WS-Addressing Metadata 1.0 ``wsam:Addressing``.
ADDRESSING_ASSERTIONS: Final = frozenset(
    {
        ns.qn("http://www.w3.org/2006/05/addressing/wsdl", "UsingAddressing"),
        ns.qn("http://schemas.xmlsoap.org/ws/2004/08/addressing/policy", "UsingAddressing"),
        ns.qn("http://www.w3.org/2007/05/addressing/metadata", "Addressing"),
    }
)


#: Token assertions by key; WCF writes SslContextToken in its ``mssp`` namespace, the SP form is read as well.
_TOKEN_KINDS: Final = {k.value: k for k in TokenKind if k is not TokenKind.OTHER} | {
    "mssp:SslContextToken": TokenKind.SSL_CONTEXT
}
#: The tokens whose client certificate requirement is an assertion (TLSNEGO, NEGOTIATION.md section 5; HTTPS).
_CLIENT_CERTIFICATE_KINDS: Final = frozenset({TokenKind.SSL_CONTEXT, TokenKind.HTTPS})
_ROLES: Final = {role.value: role for role in TokenRole}
_CATEGORIES: Final = {category.value: category for category in SupportingCategory}
_LAYOUTS: Final = {layout.value: layout for layout in Layout}
#: Nested token assertions mapped to fields (``mssp:`` variants WCF writes for SP 2005/07 documents included).
_TOKEN_FLAGS: Final = frozenset(
    {"RequireDerivedKeys", "RequireImpliedDerivedKeys", "RequireExplicitDerivedKeys", "RequireExternalUriReference"}
    | {"SC10SecurityContextToken", "SC13SecurityContextToken", "RequireClientCertificate"}
    | {"MustNotSendCancel", "MustNotSendAmend", "MustNotSendRenew"}
)
#: Nested token assertions kept by name: reference styles, token profiles, HTTP authentication (section 5.4).
_TOKEN_OPTIONS: Final = frozenset(
    {"RequireKeyIdentifierReference", "RequireIssuerSerialReference", "RequireEmbeddedTokenReference"}
    | {"RequireThumbprintReference", "RequireInternalReference", "RequireExternalReference"}
    | {f"WssX509{t}Token1{v}" for t in ("V1", "V3", "Pkcs7", "PkiPathV1") for v in "01"}
    | {"WssUsernameToken10", "WssUsernameToken11", "NoPassword", "HashPassword"}
    | {"WssKerberosV5ApReqToken11", "WssGssKerberosV5ApReqToken11"}
    | {f"WssSamlV{s}Token1{v}" for s in ("10", "11", "20") for v in "01"}
    | {f"WssRelV{r}Token1{v}" for r in ("10", "20") for v in "01"}
    | {"HttpBasicAuthentication", "HttpDigestAuthentication", "RsaKeyValue"}
)
_SUITE_OPTIONS: Final = frozenset(
    {"InclusiveC14N", "InclusiveC14N11", "SOAPNormalization10", "STRTransform10", "XPath10", "XPathFilter20"}
    | {"AbsXPath"}
)
_WSS_OPTIONS: Final = frozenset(
    {"MustSupportRefKeyIdentifier", "MustSupportRefIssuerSerial", "MustSupportRefExternalURI"}
    | {"MustSupportRefEmbeddedToken", "MustSupportRefThumbprint", "MustSupportRefEncryptedKey"}
    | {"RequireSignatureConfirmation"}
)
_TRUST_OPTIONS: Final = frozenset(
    {"MustSupportClientChallenge", "MustSupportServerChallenge", "RequireClientEntropy", "RequireServerEntropy"}
    | {"MustSupportIssuedTokens", "RequireRequestSecurityTokenCollection", "RequireAppliesTo", "ScopePolicy15"}
    | {"MustSupportInteractiveChallenge"}
)
_OPTION_SETS: Final = {
    "Wss10": _WSS_OPTIONS,
    "Wss11": _WSS_OPTIONS,
    "Trust10": _TRUST_OPTIONS,
    "Trust13": _TRUST_OPTIONS,
}
_BINDINGS: Final = frozenset(kind.value for kind in BindingKind)
_FLAG_NAMESPACES: Final = SP_NAMESPACES | {ns.MSSP}
_T = TypeVar("_T")
_BINDING_FLAGS: Final = frozenset(
    {"IncludeTimestamp", "EncryptBeforeSigning", "EncryptSignature", "ProtectTokens", "OnlySignEntireHeadersAndBody"}
)


def read_policy(alternative: Sequence[Assertion]) -> SecurityPolicy:
    """One normal-form alternative as a :class:`SecurityPolicy`."""
    return PolicyReader().policy(alternative)


class PolicyReader:
    """Reads the alternatives of one document.  References make a policy's assertions shared by every
    alternative that refers to it; each shared assertion and nested alternative is read once, so that reading
    costs no more than the normaliser's bounded expansion."""

    def __init__(self) -> None:
        self._read: dict[tuple[int, str], tuple[object, object]] = {}

    def _once(self, source: object, context: str, build: Callable[[], _T]) -> _T:
        key = (id(source), context)
        if key not in self._read:
            self._read[key] = (source, build())  # the source stays referenced: its id cannot be reused
        return cast(_T, self._read[key][1])

    def policy(self, alternative: Sequence[Assertion]) -> SecurityPolicy:
        """One alternative (sections 4-10)."""
        return self._once(alternative, "policy", partial(self._policy, alternative))

    def _policy(self, alternative: Sequence[Assertion]) -> SecurityPolicy:
        binding: SecurityPolicy | None = None
        signed: list[MessageParts] = []
        encrypted: list[MessageParts] = []
        supporting: list[SupportingTokens] = []
        bare: list[TokenAssertion] = []
        options: dict[str, frozenset[str]] = {}
        unknown: list[str] = []
        addressing = False
        for a in alternative:
            key = a.key
            if key in _BINDINGS:
                if binding is not None:
                    raise PolicyError("more than one security binding in one policy alternative")
                binding = self._once(a, "binding", partial(self._binding, a))
                unknown += binding.unknown
            elif key in ("SignedParts", "EncryptedParts"):
                parts = self._once(a, "parts", partial(_parts, a))
                (signed if key == "SignedParts" else encrypted).append(parts)
            elif key in _CATEGORIES:
                group, group_unknown = self._once(a, "supporting", partial(self._supporting, a))
                supporting.append(group)
                unknown += group_unknown
            elif key in _OPTION_SETS:
                options[key], option_unknown = self._once(a, "options", partial(_options, a, _OPTION_SETS[key]))
                unknown += option_unknown
            elif a.name in ADDRESSING_ASSERTIONS:
                addressing = True
            elif key in _TOKEN_KINDS:
                bare.append(self.token(a, ns.SP12))
            else:
                unknown.append(a.name)
        return replace(
            binding or SecurityPolicy(),
            signed_parts=MessageParts.union(signed),
            encrypted_parts=MessageParts.union(encrypted),
            supporting=tuple(supporting),
            bare_tokens=tuple(bare),
            wss10=options.get("Wss10"),
            wss11=options.get("Wss11"),
            trust10=options.get("Trust10"),
            trust13=options.get("Trust13"),
            using_addressing=addressing,
            unknown=tuple(unknown),
        )

    def _binding(self, a: Assertion) -> SecurityPolicy:
        """A binding assertion and its nested policy (sections 6 and 7), as the binding fields of a policy."""
        tokens: list[tuple[TokenRole, TokenAssertion]] = []
        suite_name: str | None = None
        suite_options: frozenset[str] = frozenset()
        layout: Layout | None = None
        flags: set[str] = set()
        unknown: list[str] = []
        for inner in a.nested or ():
            key = inner.key
            if key in _ROLES:
                found = [self.token(token, inner.namespace) for token in inner.nested or ()]
                if len(found) != 1:
                    raise PolicyError(f"{inner.name} must hold exactly one token assertion, not {len(found)}")
                tokens.append((_ROLES[key], found[0]))
            elif key == "AlgorithmSuite":
                names = [i.local for i in inner.nested or () if i.namespace in SP_NAMESPACES]
                suites = [name for name in names if name not in _SUITE_OPTIONS]
                if len(suites) != 1:
                    raise PolicyError(f"sp:AlgorithmSuite must name exactly one suite, not {suites}")
                suite_name, suite_options = suites[0], frozenset(names) & _SUITE_OPTIONS
                unknown += [i.name for i in inner.nested or () if i.namespace not in SP_NAMESPACES]
            elif key == "Layout":
                if len(inner.nested or ()) != 1 or (inner.nested or ())[0].key not in _LAYOUTS:
                    raise PolicyError("sp:Layout must hold exactly one of Strict, Lax, LaxTsFirst, LaxTsLast")
                layout = _LAYOUTS[(inner.nested or ())[0].key]
            elif key in _BINDING_FLAGS:
                flags.add(key)
            elif key != "SignBeforeEncrypting":  # the default order, when written out
                unknown.append(inner.name)
        return SecurityPolicy(
            binding=BindingKind(a.key),
            binding_namespace=a.namespace,
            tokens=tuple(tokens),
            suite_name=suite_name,
            suite=SUITES.get(suite_name or ""),
            suite_options=suite_options,
            layout=layout,
            include_timestamp="IncludeTimestamp" in flags,
            encrypt_before_signing="EncryptBeforeSigning" in flags,
            encrypt_signature="EncryptSignature" in flags,
            protect_tokens="ProtectTokens" in flags,
            only_sign_entire_headers_and_body="OnlySignEntireHeadersAndBody" in flags,
            unknown=tuple(unknown),
        )

    def token(self, a: Assertion, sp_namespace: str) -> TokenAssertion:
        """A token assertion (section 5.4); ``sp_namespace`` is the container's, for ``mssp`` tokens."""
        return self._once(a, "token " + sp_namespace, partial(self._token, a, sp_namespace))

    def _token(self, a: Assertion, sp_namespace: str) -> TokenAssertion:
        flags: set[str] = set()
        options: set[str] = set()
        unknown: list[str] = []
        bootstrap: SecurityPolicy | None = None
        kind = _TOKEN_KINDS.get(a.key, TokenKind.OTHER)
        for inner in a.nested or ():
            key = inner.key.removeprefix("mssp:")
            applies = key != "RequireClientCertificate" or kind in _CLIENT_CERTIFICATE_KINDS
            if key in _TOKEN_FLAGS and inner.namespace in _FLAG_NAMESPACES and applies:
                flags.add(key)
            elif inner.key == "BootstrapPolicy":
                bootstrap = self.policy(inner.nested or ())
            elif inner.key in _TOKEN_OPTIONS:
                options.add(inner.key)
            else:
                unknown.append(inner.name)
        if kind is TokenKind.HTTPS and a.element.get("RequireClientCertificate", "").strip() in ("true", "1"):
            flags.add("RequireClientCertificate")  # SP 2005/07 writes it as an attribute (section 5.4.10)
        issuer, issuer_name = _issuer(a)
        return TokenAssertion(
            kind=kind,
            name=a.name,
            sp_namespace=a.namespace if a.namespace in SP_NAMESPACES else sp_namespace,
            include_token=_include_token(a),
            require_derived_keys="RequireDerivedKeys" in flags,
            require_implied_derived_keys="RequireImpliedDerivedKeys" in flags,
            require_explicit_derived_keys="RequireExplicitDerivedKeys" in flags,
            require_external_uri_reference="RequireExternalUriReference" in flags,
            sc10_security_context_token="SC10SecurityContextToken" in flags,
            sc13_security_context_token="SC13SecurityContextToken" in flags,
            must_not_send_cancel="MustNotSendCancel" in flags,
            must_not_send_amend="MustNotSendAmend" in flags,
            must_not_send_renew="MustNotSendRenew" in flags,
            require_client_certificate="RequireClientCertificate" in flags,
            issuer=issuer,
            issuer_name=issuer_name,
            options=frozenset(options),
            bootstrap=bootstrap,
            unknown=tuple(unknown),
        )

    def _supporting(self, a: Assertion) -> tuple[SupportingTokens, tuple[str, ...]]:
        """A supporting-token assertion (section 8): tokens, parts, and the assertions not understood."""
        tokens: list[TokenAssertion] = []
        signed: list[MessageParts] = []
        encrypted: list[MessageParts] = []
        unknown: list[str] = []
        for inner in a.nested or ():
            if inner.key in _TOKEN_KINDS:
                tokens.append(self.token(inner, a.namespace))
            elif inner.key in ("SignedParts", "EncryptedParts"):
                (signed if inner.key == "SignedParts" else encrypted).append(_parts(inner))
            else:
                unknown.append(inner.name)
        parts = (MessageParts.union(signed), MessageParts.union(encrypted))
        return SupportingTokens(_CATEGORIES[a.key], tuple(tokens), *parts), tuple(unknown)


def _include_token(a: Assertion) -> IncludeToken | None:
    """``sp:IncludeToken`` (section 5.1.1): a URI under either SP namespace."""
    value = next((v for v in (a.element.get(ns.qn(sp, "IncludeToken")) for sp in (ns.SP12, ns.SP11)) if v), None)
    if value is None:
        return None
    for sp in SP_NAMESPACES:
        prefix = sp + "/IncludeToken/"
        if value.strip().startswith(prefix):
            try:
                return IncludeToken(value.strip()[len(prefix) :])
            except ValueError:
                break
    raise PolicyError(f"unknown sp:IncludeToken value {value!r}")


def _issuer(a: Assertion) -> tuple[str | None, str | None]:
    """``sp:Issuer`` (a WS-Addressing endpoint reference: its Address) and ``sp:IssuerName`` (section 5.4.7)."""
    issuer = issuer_name = None
    for child in child_elements(a.element):
        q = etree.QName(child)
        if q.namespace not in SP_NAMESPACES:
            continue
        if q.localname == "Issuer":
            addresses = [c.text for c in child_elements(child) if etree.QName(c).localname == "Address"]
            issuer = (addresses[0] or "").strip() if addresses else None
        elif q.localname == "IssuerName":
            issuer_name = (child.text or "").strip()
    return issuer, issuer_name


def _parts(a: Assertion) -> MessageParts:
    """SignedParts / EncryptedParts (sections 4.1.1, 4.2.1)."""
    children = list(child_elements(a.element))
    if not children:
        return MessageParts(body=True, all_headers=a.local == "SignedParts")
    body = attachments = False
    headers: list[HeaderPart] = []
    for child in children:
        q = etree.QName(child)
        if q.namespace not in SP_NAMESPACES:
            raise PolicyError(f"unexpected {child.tag} in {a.name}")
        if q.localname == "Body":
            body = True
        elif q.localname == "Attachments":
            attachments = True
        elif q.localname == "Header" and (child.get("Namespace") or "").strip():
            name = (child.get("Name") or "").strip() or None
            headers.append(HeaderPart((child.get("Namespace") or "").strip(), name))
        else:
            raise PolicyError(f"unexpected {child.tag} in {a.name}")
    return MessageParts(body=body, headers=tuple(dict.fromkeys(headers)), attachments=attachments)


def _options(a: Assertion, known: frozenset[str]) -> tuple[frozenset[str], tuple[str, ...]]:
    """The nested flags of Wss10/Wss11/Trust10/Trust13 (sections 9-10), and those not understood."""
    inner = a.nested or ()
    options = frozenset(i.local for i in inner if i.namespace in SP_NAMESPACES and i.local in known)
    return options, tuple(i.name for i in inner if i.namespace not in SP_NAMESPACES or i.local not in known)
