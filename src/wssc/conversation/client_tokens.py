"""How a client takes on what a token service answered (WS-SC 1.3 sections 3, 5 and 6): the context an
Issue or Renew RSTR describes, the token an Amend RSTR hands back, and the check of a response under a context."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from wssc.conversation.context import CLIENT_RENEWAL_INTERVAL, KEY_ROLLOVER_WINDOW, PreviousKey, SecurityContext
from wssc.errors import BadContextToken, FailedCheck, InvalidSecurity, RenewNeeded, RequestFailed
from wssc.security.keys import StaticKeys
from wssc.security.policy import Requirements
from wssc.security.result import VerifiedMessage
from wssc.security.unprotect import Receiver
from wssc.trust.rstr import RequestSecurityTokenResponse


def issued_context(
    rstr: RequestSecurityTokenResponse, key: bytes, old: SecurityContext | None, now: datetime
) -> SecurityContext:
    """The context of an Issue (``old`` None) or Renew RSTR whose proof ``key`` was already worked out.

    The SCT is kept as received (cookies included) to be echoed verbatim.  Without a Lifetime the client
    assumes its own renewal interval; after Renew the previous key still verifies replies for WCF's
    key rollover window."""
    sct = rstr.requested_security_token
    if sct is None:
        raise RequestFailed("the response carries no SecurityContextToken")
    if old is not None and sct.identifier != old.identifier:
        raise RequestFailed("a renewed context keeps its Identifier")
    lifetime = rstr.lifetime
    created = lifetime.created if lifetime and lifetime.created else now
    expires = lifetime.expires if lifetime and lifetime.expires else now + CLIENT_RENEWAL_INTERVAL
    if old is None:
        return SecurityContext(sct.identifier, key, created, expires, sct.version, sct.instance, (), (), sct)
    previous = (*old.previous, PreviousKey(old.instance, old.key, now + KEY_ROLLOVER_WINDOW))
    return replace(old, key=key, created=created, expires=expires, instance=sct.instance, previous=previous, token=sct)


def amended_context(rstr: RequestSecurityTokenResponse, context: SecurityContext) -> SecurityContext:
    """``context`` after Amend: a stateless service answers with the SCT (and cookie) to use from now on."""
    token = rstr.requested_security_token
    if token is None:
        return context
    if token.identifier != context.identifier or token.instance != context.instance:
        raise RequestFailed("the amended token is for another context or key instance")
    return replace(context, token=token)


def unprotect_under(
    context: SecurityContext, data: bytes, requirements: Requirements, now: datetime
) -> VerifiedMessage:
    """A response protected under ``context`` (its current key, or a previous one inside its rollover window).

    A response that does not verify is no statement by the service about the context (the receiver answers a
    failed check under a context key with ``wsc:BadContextToken``): it is :class:`FailedCheck`, not a reason to
    renew or establish anew and resend a request the service may have carried out."""
    instances = {(context.identifier, context.instance): context.key}
    for old in context.previous:
        if now <= old.valid_until:
            instances[(context.identifier, old.instance)] = old.key
    try:
        message = Receiver(StaticKeys(instances=instances), requirements).unprotect(data, now=now)
    except (BadContextToken, RenewNeeded) as error:
        raise FailedCheck(error.detail) from None
    if message.context is None or message.context.identifier != context.identifier:
        raise InvalidSecurity("the response is not protected by our context")
    return message
