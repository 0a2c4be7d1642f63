"""SPNEGO (RFC 4178) with Kerberos (RFC 4121) and NTLM ([MS-NLMP]) in ``wst:BinaryExchange`` legs, on pyspnego.

:class:`SpnegoInitiator` is WCF's ``SpnegoTokenProvider`` side (the client), :class:`SpnegoAcceptor` its
``SpnegoTokenAuthenticator`` side (the service), NEGOTIATION.md sections 1.3-1.5 and 6.  Both sides use pyspnego's
own SPNEGO layer (``NegotiateOptions.use_negotiate``), the same on every platform: Kerberos through python-gssapi,
NTLM through pyspnego.  Legs (section 1.5): Kerberos takes one round trip (NegTokenInit + AP-REQ, then
accept-completed + AP-REP); NTLM two (NEGOTIATE, CHALLENGE, AUTHENTICATE + mechListMIC, accept-completed + MIC).

What the two sides check, after WCF:

- the initiator requests mutual authentication, confidentiality, integrity, replay and sequence detection
  (section 6.4; not ``Identify``, which MIT lacks).  A Kerberos completion demands mutual authentication granted,
  as WCF does with AuthenticateServer (section 6.5).  NTLM cannot authenticate the service: it completes only
  with ``allow_ntlm`` (WCF's AllowNtlm, default true, section 6.3), the caller's consent to that weaker mode;
  with ``allow_ntlm=False`` NTLM is never offered (WCF's ``"!NTLM"``) and a service choosing it is refused;
- both sides demand confidentiality granted: the proof key travels sealed (section 2.2);
- GSS_Wrap (section 2.2) is the acceptor's first per-message operation, one ``wrap(key, encrypt=True)`` whose
  output is the CipherValue (Kerberos: an RFC 4121 or RFC 4757 wrap token; NTLM: the 16-byte signature then the
  RC4-sealed key); the initiator unwraps it once and demands it was sealed.

Target names (section 6.2, :mod:`.spnego_names`): ``service/host`` is imported as a GSS host-based name, a name
with a realm, or a UPN, as a Kerberos principal name; :class:`~.spnego_names.NamedKerberos` hands pyspnego's SPNEGO
layer that Kerberos context (pyspnego internals, checked on 0.12: the SPNEGO layer's ``_negotiate_contexts``,
``unpack_token``).  The acceptor's keytab and NTLM users are process-wide state of those libraries, scoped per
acceptor by :mod:`.spnego_env`, which also holds NTLM to NTLMv2.  With a password the initiator's first step may
talk to the KDC (a kinit).

A refusal by Kerberos or NTLM is :class:`~wssc.errors.FailedAuthentication` (WCF maps an SSPI failure to that
fault, section 7; a garbage token is one too, section 11 item 3); a leg refused before the library sees it
(empty, oversized, after completion, too many) is :class:`~wssc.errors.InvalidRequest`.  No exception of
pyspnego or gssapi leaves this module, and no message carries a token, a key or a password.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Final, TypeVar

import spnego
from spnego import ContextProxy, ContextReq, NegotiateOptions
from spnego._context import GSSMech
from spnego._spnego import unpack_token

from wssc.errors import FailedAuthentication, InvalidRequest, RequestFailed, WsscError
from wssc.limits import MAX_DERIVED_KEY_LENGTH
from wssc.trust.negotiation.mechanism import SPNEGO
from wssc.trust.negotiation.spnego_env import ENVIRONMENT_LOCK, NTLMV2_ONLY, AcceptorEnvironment, scoped_environment
from wssc.trust.negotiation.spnego_names import NamedKerberos

#: Largest token either side accepts: Windows' MaxTokenSize for SSPI (Kerberos, NTLM, Negotiate) is 65,535
#: bytes since Windows 8 / Server 2012 (the ``wst:BinaryExchange`` bound of :mod:`wssc.trust.elements`).
MAX_TOKEN_BYTES: Final = 65_535
#: Tokens one side consumes: NTLM takes two per side; an initiator's optimistic Kerberos token the acceptor
#: declines (RFC 4178 section 5, then NTLM) adds one.  WCF has no leg limit (section 1.3 step 4).
MAX_LEGS: Final = 3
#: Longest proof key wrapped or unwrapped: KeySize/8 bytes (section 2.1), the library's bound on symmetric keys.
MAX_KEY_BYTES: Final = MAX_DERIVED_KEY_LENGTH
#: The ``protocol`` values: SPNEGO offering both mechanisms, or only one of them (always SPNEGO-framed).
PROTOCOLS: Final = ("negotiate", "kerberos", "ntlm")
#: Flags the initiator asks for (section 6.4: Confidentiality|ReplayDetect|SequenceDetect|MutualAuth).
CONTEXT_FLAGS: Final = ContextReq.default  # mutual_auth | replay | sequence | confidentiality | integrity

_KERBEROS, _NTLM = "kerberos", "ntlm"
_T = TypeVar("_T")


def _guarded(what: str, call: Callable[[], _T]) -> _T:
    """``call()`` with every library error turned into FailedAuthentication (an SSPI failure, section 7)."""
    try:
        return call()
    except WsscError:
        raise
    # pyspnego's SPNEGO, NTLM and ASN.1 parsers and python-gssapi raise assorted errors on hostile bytes
    # (SpnegoError, GSSError, struct.error, ValueError, KeyError, StopIteration ...): none may escape.
    except Exception as error:
        code = getattr(error, "ERROR_CODE", None)
        reason = code.name if code is not None else type(error).__name__
        raise FailedAuthentication(f"SPNEGO {what} failed: {reason}") from None


class _SpnegoEndpoint:
    """What both sides share: leg bounds, completion checks and the failed state."""

    def __init__(self, protocol: str) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"SPNEGO protocol must be one of {', '.join(PROTOCOLS)}")
        self._protocol = protocol
        self._context: ContextProxy | None = None
        self._complete = False
        self._failed = False
        self._legs = 0
        self._wrapped = False

    @property
    def mechanism(self) -> str:
        """:data:`~wssc.trust.negotiation.mechanism.SPNEGO`."""
        return SPNEGO

    @property
    def complete(self) -> bool:
        """True once the context is established and the completion checks passed."""
        return self._complete

    @property
    def negotiated_protocol(self) -> str | None:
        """``"kerberos"`` or ``"ntlm"`` once complete."""
        return self._context.negotiated_protocol if self._complete and self._context is not None else None

    def step(self, in_token: bytes | None) -> bytes | None:
        """Consume the peer's token and return this side's next one (None when it has none).

        Any refusal ends the negotiation: later calls fail too (WCF disposes the state, NEGOTIATION.md section 7).
        """
        if self._failed:
            raise FailedAuthentication("SPNEGO negotiation already failed")
        try:
            if in_token is not None:
                if len(in_token) > MAX_TOKEN_BYTES:
                    raise InvalidRequest("SPNEGO token is longer than this side accepts")
                if self._complete:
                    raise InvalidRequest("SPNEGO token after the context was established")
                self._legs += 1
                if self._legs > MAX_LEGS:
                    raise InvalidRequest("SPNEGO negotiation takes more legs than Kerberos or NTLM need")
                if not in_token:
                    raise InvalidRequest("SPNEGO token is empty")
            out = self._step(in_token)
            context = self._context
            if context is not None and context.complete:
                self._finish(context)
            elif not out:
                raise InvalidRequest("SPNEGO token left the negotiation waiting without a reply")
            return out or None
        except WsscError:
            self._failed = True
            raise

    def _step(self, in_token: bytes | None) -> bytes | None:
        raise NotImplementedError

    def _finish(self, context: ContextProxy) -> None:
        protocol = context.negotiated_protocol
        if protocol not in (_KERBEROS, _NTLM) or self._protocol not in ("negotiate", protocol):
            raise FailedAuthentication(f"SPNEGO completed with {protocol}, which this side does not allow")
        if not context.context_attr & ContextReq.confidentiality:
            raise FailedAuthentication("SPNEGO context grants no confidentiality for the proof key")
        self._complete = True

    def _established(self, what: str) -> ContextProxy:
        """The context for the one GSS_Wrap of the negotiation (section 2.2)."""
        if self._failed:
            raise FailedAuthentication("SPNEGO negotiation already failed")
        if not self._complete or self._context is None:
            raise InvalidRequest(f"GSS_Wrap {what} before the SPNEGO context was established")
        if self._wrapped:
            raise InvalidRequest("GSS_Wrap happens once per negotiation")
        self._wrapped = True
        return self._context


class SpnegoInitiator(_SpnegoEndpoint):
    """The client side of SPNEGO (WCF ``SpnegoTokenProvider``, NEGOTIATION.md sections 1.3 and 6).

    ``target`` comes from :func:`target_name` (``host/server.example.com``, ``HTTP/server@REALM``, a UPN).
    ``username`` None uses the current Kerberos login (``KRB5CCNAME``); a username without a password picks that
    principal's tickets from the cache; with a password, Kerberos gets a ticket for the principal
    (``user@REALM``; ``DOMAIN\\user`` becomes ``user`` in the default realm) and NTLM authenticates as
    ``DOMAIN\\user`` or the UPN.  ``protocol`` narrows what is offered (``"kerberos"``, ``"ntlm"``);
    ``allow_ntlm=False`` is WCF's AllowNtlm off: NTLM is neither offered nor accepted.
    """

    def __init__(
        self,
        target: str,
        *,
        username: str | None = None,
        password: str | None = None,
        protocol: str = "negotiate",
        allow_ntlm: bool = True,
    ) -> None:
        if not target or any(c.isspace() for c in target):
            raise ValueError("SPNEGO target must be a non-empty name without spaces")
        if password is not None and not username:
            raise ValueError("a password needs a username")
        super().__init__(protocol)
        if not allow_ntlm and self._protocol == _NTLM:
            raise ValueError("protocol 'ntlm' contradicts allow_ntlm=False")
        self._target = target
        self._username = username
        self._password = password
        self._allow_ntlm = allow_ntlm
        self._started = False

    @property
    def mutual_authenticated(self) -> bool:
        """True once complete if the service proved its identity (Kerberos AP-REP); never for NTLM."""
        return bool(self._complete and self._context and self._context.context_attr & ContextReq.mutual_auth)

    def _mechanisms(self) -> dict[GSSMech, ContextProxy]:
        """The mechanisms offered, Kerberos first; one that cannot start here (no python-gssapi, the KDC refused the
        password, no NTLM password) is left out, as Windows' Negotiate does, and so is one without a ticket (later,
        by pyspnego's SPNEGO layer when it asks each mechanism for its first token)."""
        user = self._username
        candidates: dict[GSSMech, Callable[[], ContextProxy]] = {}
        if self._protocol in ("negotiate", _KERBEROS):
            principal = user.split("\\", 1)[1] if user and "\\" in user else user
            candidates[GSSMech.kerberos] = lambda: NamedKerberos(
                self._target, username=principal, password=self._password, context_req=CONTEXT_FLAGS
            )
        if self._allow_ntlm and self._protocol in ("negotiate", _NTLM):
            service, _, host = self._target.partition("/")

            def ntlm() -> ContextProxy:
                # without a password pyspnego reads NTLM_USER_FILE here; LM_COMPAT_LEVEL picks the response
                with ENVIRONMENT_LOCK, scoped_environment(NTLMV2_ONLY):
                    return spnego.client(
                        user,
                        self._password,
                        hostname=host or self._target,
                        service=service if host else "host",
                        context_req=CONTEXT_FLAGS,
                        protocol=_NTLM,
                        options=NegotiateOptions.use_ntlm,
                    )

            candidates[GSSMech.ntlm] = ntlm
        contexts: dict[GSSMech, ContextProxy] = {}
        for mech, factory in candidates.items():
            try:
                contexts[mech] = factory()
            except Exception:  # noqa: S112 -- not offered; nothing left is reported below
                continue
            contexts[mech]._is_wrapped = True  # pyspnego's flag for a mechanism inside its SPNEGO layer
        if not contexts:
            note = "" if self._allow_ntlm else " (NTLM is not allowed)"
            raise FailedAuthentication(f"SPNEGO initiator has no usable credential for {self._protocol}{note}")
        return contexts

    def _step(self, in_token: bytes | None) -> bytes | None:
        if in_token is None:
            if self._started:
                raise InvalidRequest("SPNEGO leg carries no token")
            self._started = True
            self._context = _guarded(
                "initiator",
                lambda: spnego.client(
                    context_req=CONTEXT_FLAGS,
                    protocol="negotiate",
                    options=NegotiateOptions.use_negotiate,
                    _negotiate_contexts=self._mechanisms(),
                ),
            )
        context = self._context
        if context is None:
            raise InvalidRequest("SPNEGO initiator must start with step(None)")
        if in_token is not None and not self._allow_ntlm:
            chosen = _guarded("initiator step", lambda: getattr(unpack_token(in_token), "supported_mech", None))
            if chosen == GSSMech.ntlm.value:
                raise FailedAuthentication("SPNEGO service chose NTLM, which this initiator does not allow")
        what = "initiator step" if self._allow_ntlm else "initiator step (Kerberos only, NTLM is not allowed)"
        return _guarded(what, lambda: context.step(in_token))

    def _finish(self, context: ContextProxy) -> None:
        protocol = context.negotiated_protocol
        if protocol == _NTLM and not self._allow_ntlm:
            raise FailedAuthentication("SPNEGO service chose NTLM, which this initiator does not allow")
        if protocol == _KERBEROS and not context.context_attr & ContextReq.mutual_auth:
            raise FailedAuthentication("SPNEGO service did not authenticate itself (mutual authentication)")
        super()._finish(context)

    def unwrap_key(self, blob: bytes) -> bytes:
        """The proof key from the acceptor's GSS_Wrap: one sealed wrap token (section 2.2)."""
        if not 0 < len(blob) <= MAX_TOKEN_BYTES:
            raise InvalidRequest("GSS_Wrap proof has an unacceptable length")
        context = self._established("unwrap")
        self._failed = True  # from here on, the context is spent whatever the outcome
        result = _guarded("GSS_Wrap unwrap", lambda: context.unwrap(blob))
        if not result.encrypted:
            raise InvalidRequest("GSS_Wrap proof was not sealed (no confidentiality)")
        if not 0 < len(result.data) <= MAX_KEY_BYTES:
            raise InvalidRequest("GSS_Wrap proof key has an unacceptable length")
        self._failed = False
        return result.data

    def wrap_key(self, key: bytes) -> bytes:
        """Only the service wraps the proof key (section 3: only the service sends the proof)."""
        raise InvalidRequest("the SPNEGO initiator does not wrap a proof key")


class SpnegoAcceptor(_SpnegoEndpoint):
    """The service side of SPNEGO (WCF ``SpnegoTokenAuthenticator``, NEGOTIATION.md sections 1.4 and 6.6).

    Kerberos accepts tickets for any service key in ``keytab`` (default: ``KRB5_KTNAME``, else the system
    keytab), or only for ``spn`` (``service/host``; a realm after it is ignored: the keytab entry decides).
    NTLM checks users against ``ntlm_users``: a file in pyspnego's format (``DOMAIN:user:password`` lines, or
    smbpasswd lines) or a mapping ``{"DOMAIN\\\\user" or "user@domain": password}``; without it, the file
    named by ``NTLM_USER_FILE``, and no NTLM without either.  ``protocol`` narrows what is accepted.
    """

    def __init__(
        self,
        *,
        protocol: str = "negotiate",
        keytab: str | os.PathLike[str] | None = None,
        spn: str | None = None,
        ntlm_users: str | os.PathLike[str] | Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(protocol)
        self._credentials: spnego.CredentialCache | None = None
        if spn is not None:
            service, _, host = spn.partition("@")[0].partition("/")
            if not service or not host or "/" in host:
                raise ValueError("acceptor SPN must have the form service/host[@REALM]")
            self._credentials = spnego.CredentialCache(username=f"{service}@{host}")
        self._environment = AcceptorEnvironment(
            keytab=None if keytab is None else os.fspath(keytab),
            ntlm_users=ntlm_users,
            kerberos=self._protocol != _NTLM,
            ntlm=self._protocol != _KERBEROS,
        )

    @property
    def client_principal(self) -> str | None:
        """The authenticated client once complete: ``user@REALM`` (Kerberos) or ``DOMAIN\\user`` (NTLM)."""
        return self._context.client_principal if self._complete and self._context is not None else None

    @property
    def peer_identity(self) -> tuple[str, str] | None:
        """``(negotiated protocol, client principal)`` once complete, for the claims of the issued context."""
        protocol, principal = self.negotiated_protocol, self.client_principal
        return (protocol, principal) if protocol and principal else None

    def _step(self, in_token: bytes | None) -> bytes | None:
        if in_token is None:
            raise InvalidRequest("SPNEGO leg carries no token")
        with self._environment.applied():
            if self._context is None:
                self._context = _guarded(
                    "acceptor",
                    lambda: spnego.server(
                        protocol="negotiate",
                        options=NegotiateOptions.use_negotiate,
                        credentials=self._credentials,
                    ),
                )
            context = self._context
            return _guarded("acceptor step", lambda: context.step(in_token))

    def _finish(self, context: ContextProxy) -> None:
        super()._finish(context)
        if not context.client_principal:
            self._complete = False
            raise FailedAuthentication("SPNEGO context names no client")

    def wrap_key(self, key: bytes) -> bytes:
        """``key`` sealed by the acceptor's first per-message wrap (section 2.2); the output is the CipherValue."""
        if not 0 < len(key) <= MAX_KEY_BYTES:
            raise ValueError("GSS_Wrap key length out of range")
        context = self._established("wrap")
        try:
            result = _guarded("GSS_Wrap", lambda: context.wrap(key, encrypt=True))
        except FailedAuthentication:
            self._failed = True
            raise RequestFailed("GSS_Wrap failed") from None
        if not result.encrypted or not result.data:
            self._failed = True
            raise RequestFailed("GSS_Wrap did not seal the proof key")
        return result.data

    def unwrap_key(self, blob: bytes) -> bytes:
        """Only the client unwraps the proof key."""
        raise InvalidRequest("the SPNEGO acceptor does not unwrap a proof key")
