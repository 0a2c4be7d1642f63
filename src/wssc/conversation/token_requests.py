"""What a token request is checked for, and the RSTR that issues a context (WS-SC 1.3 sections 3-6, WS-Trust 1.3
sections 4-8): the WS-SC version a TokenType names, the context a Renew, Cancel or ValidateTarget names, proof of
possession of the context's current key, whether the caller is the principal a context was issued to, and the
response carrying the SCT with its references, proof and lifetime.  Pure functions, used by
:class:`~wssc.conversation.token_service.TokenService` (and the version of a request's derived keys, by
:class:`~wssc.conversation.service.SecureConversationService` too).
"""

from __future__ import annotations

from wssc.conversation.context import Claim, SecurityContext
from wssc.errors import BadContextToken
from wssc.security.result import VerifiedMessage
from wssc.tokens import reference as strs
from wssc.tokens.reference import Reference, SecurityTokenReference
from wssc.tokens.sct import SecurityContextToken
from wssc.trust.elements import Lifetime
from wssc.trust.rst import RequestSecurityToken
from wssc.trust.rstr import RequestSecurityTokenResponse
from wssc.versions import VERSIONS, SCVersion


def issued_rstr(
    version: SCVersion,
    rst: RequestSecurityToken,
    context: SecurityContext,
    proof: object,
    server_entropy: bytes | None,
    key_bits: int,
) -> RequestSecurityTokenResponse:
    """The RSTR that issues (or renews) ``context`` in answer to ``rst``: the SCT, a local reference to it and an
    external one by Identifier and Instance, the proof token, the service's entropy and the lifetime."""
    sct = context.sct()
    return RequestSecurityTokenResponse(
        token_type=version.sct_token_type,
        context=rst.context,
        requested_security_token=sct,
        requested_attached_reference=strs.local(sct.wsu_id or "", None),
        requested_unattached_reference=strs.external_sct(context.identifier, version, context.instance),
        requested_proof_token=proof,  # type: ignore[arg-type]
        entropy=server_entropy,
        lifetime=Lifetime(context.created, context.expires),
        key_size=key_bits,
    )


def sct_version_of(token_type: str | None) -> SCVersion | None:
    """The WS-SC version whose SCT a request's TokenType names (WS-Trust 1.3 section 4.1), None for another."""
    for version in VERSIONS:
        if token_type == version.sct_token_type:
            return version
    return None


def holds(caller: tuple[Claim, ...], context: SecurityContext) -> bool:
    """The authenticated ``caller`` is the principal the context was issued to (an anonymous one is nobody)."""
    if not caller or any(c.type == "authentication" and c.value == "anonymous" for c in caller):
        return False
    return all(claim in context.claims for claim in caller)


def require_current_key(message: VerifiedMessage, context: SecurityContext, what: str) -> None:
    """Proof of possession of the *current* key (WS-SC 1.3 sections 4, 5 and 6): a rolled-over instance may
    still carry messages in flight, but it may not renew, amend or cancel the context."""
    if message.context is None or message.context.instance != context.instance:
        raise BadContextToken(f"{what} must be signed with the current key instance")


def derivation_version(message: VerifiedMessage) -> SCVersion | None:
    """The WS-SC version of the request's derived keys (a bootstrap reply derives its keys the same way;
    Mono's WCF, for one, reads only Feb 2005 derived keys)."""
    uri = message.algorithms.get("derivation")
    return next((v for v in VERSIONS if v.p_sha1 == uri), None)


def target_identifier(target: object, message: VerifiedMessage) -> str | None:
    """The Identifier a Renew/Cancel/ValidateTarget names: the SCT itself, a reference by Identifier, or a
    ``#wsu:Id`` reference to the SCT this message carried in its Security header (WS-Trust 1.3 section 5,
    WSS 1.1 section 7: a local reference, as independent WS-Trust clients send it)."""
    if isinstance(target, SecurityContextToken):
        return target.identifier
    if isinstance(target, SecurityTokenReference) and isinstance(target.target, Reference):
        if target.target.is_local:
            return message.header_contexts.get(target.target.local_id)
        return target.target.uri
    return None
