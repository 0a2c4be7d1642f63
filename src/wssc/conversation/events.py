"""What the service side hands back for one request (sans I/O): a finished reply, or an application request
for the application to answer (WS-SC 1.3 sections 3-8)."""

from __future__ import annotations

from dataclasses import dataclass

from wssc.conversation.context import Claim, SecurityContext
from wssc.errors import WsscError
from wssc.security.addressing import block_text, wsa_block
from wssc.security.result import VerifiedMessage
from wssc.security.soap import HeaderBlock, SOAPVersion
from wssc.trust.elements import RequestType


@dataclass(frozen=True)
class Reply:
    """Bytes to send back, with the HTTP status: 500 for every fault, as WCF sends and expects (SOAP 1.1
    section 6.2; SOAP 1.2 part 2 section 7.5.1.2 would allow 400 for Sender faults, WCF clients do not)."""

    data: bytes
    soap: SOAPVersion
    status: int = 200


@dataclass(frozen=True)
class TokenReply:
    operation: RequestType
    context: SecurityContext | None
    reply: Reply
    #: Validate only: whether the target context is valid
    valid: bool | None = None


@dataclass(frozen=True)
class FaultReply:
    error: WsscError
    reply: Reply


@dataclass(frozen=True)
class ApplicationRequest:
    """A verified application message; answer it with ``respond``.

    ``context`` is the live security context, or None for a message protected by the bootstrap binding
    itself (a service configured without secure conversation, WCF ``establishSecurityContext=false``);
    ``claims`` are what the context, or the bootstrap credential, proved about the caller.
    """

    message: VerifiedMessage
    context: SecurityContext | None
    action: str | None
    message_id: str | None
    bootstrap_claims: tuple[Claim, ...] = ()
    #: the request came over HTTPS under TransportWithMessageCredential; the answer is protected the same way
    over_tls: bool = False

    @property
    def claims(self) -> tuple[Claim, ...]:
        return self.context.claims if self.context is not None else self.bootstrap_claims


Event = TokenReply | FaultReply | ApplicationRequest


@dataclass(frozen=True)
class Incoming:
    """What the transport told about one request."""

    transport_action: str | None = None
    over_tls: bool = False


def application_request(
    message: VerifiedMessage,
    context: SecurityContext | None,
    incoming: Incoming,
    claims: tuple[Claim, ...] = (),
    over_tls: bool = False,
) -> ApplicationRequest:
    """An application message for the handlers, with the action it is routed on and its wsa:MessageID, both
    read from its header blocks (no tree built where the compiled core verified it)."""
    blocks = message.header_blocks()
    action = _verified_action(blocks, incoming)
    return ApplicationRequest(message, context, action, block_text(blocks, "MessageID"), claims, over_tls=over_tls)


def _verified_action(blocks: tuple[HeaderBlock, ...], incoming: Incoming) -> str | None:
    """The action an application is routed on: the wsa:Action header when the signature covers it (or TLS
    protects the message), else none (the default handler).  The transport's action (SOAPAction) serves
    only a sender that uses no WS-Addressing at all: a signed wsa:Action cannot be removed or moved (the
    receiver refuses signed WS-Addressing headers anywhere but in the SOAP Header), so it can never be
    swapped for the transport's."""
    block = wsa_block(blocks, "Action")
    if block is None:
        return incoming.transport_action
    if incoming.over_tls or block.signed:
        return (block.text or "").strip() or None
    return None  # an unsigned wsa:Action: neither it nor the transport's action is believed
