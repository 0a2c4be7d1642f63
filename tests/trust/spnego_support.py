"""Helpers shared by the SPNEGO tests: a whole negotiation, and an NTLM pair needing no KDC."""

from __future__ import annotations

from wssc.trust.negotiation import SpnegoAcceptor, SpnegoInitiator

KEY = bytes(range(32))
NTLM_USERS = {"WSSC\\alice": "ntlm-Pa55word", "carol@wssc.test": "carol-Pa55word"}


def negotiate(initiator: SpnegoInitiator, acceptor: SpnegoAcceptor) -> list[bytes]:
    """Run the legs to completion as WCF does (section 1.3): the tokens in wire order."""
    tokens: list[bytes] = []
    token = initiator.step(None)
    while token is not None:
        tokens.append(token)
        reply = acceptor.step(token)
        if reply is None:
            break
        tokens.append(reply)
        token = initiator.step(reply)
    assert initiator.complete and acceptor.complete
    return tokens


def ntlm_pair(**acceptor: object) -> tuple[SpnegoInitiator, SpnegoAcceptor]:
    initiator = SpnegoInitiator("host/localhost", username="WSSC\\alice", password="ntlm-Pa55word", protocol="ntlm")
    return initiator, SpnegoAcceptor(**{"ntlm_users": NTLM_USERS, **acceptor})  # type: ignore[arg-type]
