"""How a client takes on what a token service answered (WS-SC 1.3 sections 3, 5 and 6): the context an
Issue or Renew RSTR describes, and the token an Amend RSTR hands back."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from wssc.conversation.context import CLIENT_RENEWAL_INTERVAL, KEY_ROLLOVER_WINDOW, PreviousKey, SecurityContext
from wssc.errors import RequestFailed
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
