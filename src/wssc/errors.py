"""Typed errors, each bound to the SOAP fault code its specification names.

WS-Security 1.1 (SOAP Message Security section 12) defines the ``wsse:`` codes, WS-SecureConversation 1.3
section 9 (Feb 2005 section 10) the ``wsc:`` codes.  Every error carries the spec's reason text, which is
what goes on the wire, and an optional ``detail`` for local logs only: details can reveal why a check
failed and so never leave the process (padding-oracle and wrapping attacks feed on them).
"""

from __future__ import annotations

from typing import ClassVar

from wssc import namespaces as ns


class WsscError(Exception):
    """Base class of every error the library raises on bad input or a failed check."""

    #: namespace kind of the fault code: "wsse" (WS-Security), "wsc" (WS-SC), "wst" (WS-Trust), "dnse" (WCF's
    #: ``http://schemas.microsoft.com/ws/2006/05/security``) or "soap" (the envelope's own namespace, a top-level
    #: SOAP fault code)
    code_kind: ClassVar[str] = "wsse"
    #: local name of the fault code
    code: ClassVar[str] = "InvalidSecurity"
    #: the reason text the specification gives for the code
    reason: ClassVar[str] = "An error was discovered processing the <wsse:Security> header."
    #: SOAP 1.2 top-level code: faults of this library are the sender's fault
    sender_fault: ClassVar[bool] = True

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.reason)
        self.detail = detail
        #: set on an error raised for a fault the peer sent: its code as sent (Clark notation,
        #: ``{namespace}local``), which may be one no class of this module names (WCF's ``a:ActionNotSupported``)
        self.fault_code: str | None = None
        #: ... and its reason text as the peer wrote it (``reason`` stays the spec's text of this class)
        self.fault_reason: str | None = None

    @property
    def prefixed_code(self) -> str:
        """``wsse:InvalidSecurity`` style name, as the CLI prints it."""
        return f"{self.code_kind}:{self.code}"

    def code_namespace(self, sc_namespace: str, trust_namespace: str) -> str:
        """The namespace of the fault code for the protocol version in use."""
        if self.code_kind == "wsc":
            return sc_namespace
        if self.code_kind == "wst":
            return trust_namespace
        if self.code_kind == "dnse":
            return ns.DNSE
        return ns.WSSE


# --- WS-Security 1.1, SOAP Message Security section 12 -------------------------------------------------


class UnsupportedSecurityToken(WsscError):
    code = "UnsupportedSecurityToken"
    reason = "An unsupported token was provided"


class UnsupportedAlgorithm(WsscError):
    code = "UnsupportedAlgorithm"
    reason = "An unsupported signature or encryption algorithm was used"


class InvalidSecurity(WsscError):
    code = "InvalidSecurity"
    reason = "An error was discovered processing the <wsse:Security> header."


class InvalidSecurityToken(WsscError):
    code = "InvalidSecurityToken"
    reason = "An invalid security token was provided"


class FailedAuthentication(WsscError):
    code = "FailedAuthentication"
    reason = "The security token could not be authenticated or authorized"


class FailedCheck(WsscError):
    code = "FailedCheck"
    reason = "The signature or decryption was invalid"


class SecurityTokenUnavailable(WsscError):
    code = "SecurityTokenUnavailable"
    reason = "Referenced security token could not be retrieved"


class MessageExpired(WsscError):
    code = "MessageExpired"
    reason = "The message has expired"


# --- SOAP 1.1 section 4.4.1, SOAP 1.2 part 1 section 5.4.6 --------------------------------------------------


class MustUnderstand(WsscError):
    """A header marked ``mustUnderstand`` for this receiver that neither wssc nor the application understands."""

    code_kind = "soap"
    code = "MustUnderstand"
    reason = "One or more mandatory SOAP header blocks not understood"


# --- WS-SecureConversation 1.3 section 9 ----------------------------------------------------------------


class BadContextToken(WsscError):
    code_kind = "wsc"
    code = "BadContextToken"
    reason = "The requested context elements are insufficient or unsupported."


class UnsupportedContextToken(WsscError):
    code_kind = "wsc"
    code = "UnsupportedContextToken"
    reason = "Not all of the values associated with the SCT are supported."


class UnknownDerivationSource(WsscError):
    code_kind = "wsc"
    code = "UnknownDerivationSource"
    reason = "The specified source for the derivation is unknown."


class RenewNeeded(WsscError):
    code_kind = "wsc"
    code = "RenewNeeded"
    reason = "The provided context token has expired."


class UnableToRenew(WsscError):
    code_kind = "wsc"
    code = "UnableToRenew"
    reason = "The specified context token could not be renewed."


# --- WS-Trust 1.3 section 11 ----------------------------------------------------------------------------


class InvalidRequest(WsscError):
    code_kind = "wst"
    code = "InvalidRequest"
    reason = "The request was invalid or malformed"


class RequestFailed(WsscError):
    code_kind = "wst"
    code = "RequestFailed"
    reason = "The specified request failed"
    sender_fault = False


class TrustFailedAuthentication(FailedAuthentication):
    """``wst:FailedAuthentication`` (WS-Trust 1.3 section 11): a negotiation leg whose credential the mechanism
    refused (a wrong password, an unknown principal, an untrusted client certificate).  WCF sends it in the Feb 2005
    trust namespace in both versions, with this reason (NEGOTIATION.md section 7)."""

    code_kind = "wst"
    reason = "The request for security token could not be satisfied because authentication failed."


class ServerTooBusy(WsscError):
    """WCF's ``dnse:ServerTooBusy`` Receiver fault: too many negotiations pending (NEGOTIATION.md section 7,
    ``NegotiationTokenAuthenticator`` on ``QuotaExceededException``).  Retry later; the request was not at fault."""

    code_kind = "dnse"
    code = "ServerTooBusy"
    reason = (
        "There are too many active security negotiations or secure conversations at the service. Please retry later."
    )
    sender_fault = False


ALL_ERRORS: tuple[type[WsscError], ...] = (
    UnsupportedSecurityToken,
    UnsupportedAlgorithm,
    InvalidSecurity,
    InvalidSecurityToken,
    FailedAuthentication,
    FailedCheck,
    SecurityTokenUnavailable,
    MessageExpired,
    MustUnderstand,
    BadContextToken,
    UnsupportedContextToken,
    UnknownDerivationSource,
    RenewNeeded,
    UnableToRenew,
    InvalidRequest,
    RequestFailed,
    TrustFailedAuthentication,
    ServerTooBusy,
)
