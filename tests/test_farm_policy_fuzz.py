"""Untrusted inputs of the farm, stateless and policy code, mutated at random: every outcome is a result or
the typed error the code names (never another exception), and mutated cookies never open.

- WSDL/policy documents (what ``wssc policy`` and the zeep transport read from a server): element and
  attribute deletions, duplications, renamings, reference rewrites -> a parse, or ``WsscError``;
- sealed contexts and cookies (what a client or Redis hands back): any change -> ``wsc:BadContextToken``;
- SCT cookies inside requests to a stateless service -> a fault reply, other contexts unharmed.
"""

from __future__ import annotations

import contextlib
import os
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from wssc.conversation.bootstrap import ClientBootstrap, ServiceCredentials
from wssc.conversation.client import ClientSession, Response
from wssc.conversation.context import Claim, SecurityContext
from wssc.conversation.policy_client import ClientCredentials, configure_client
from wssc.conversation.sealing import ContextSeal
from wssc.conversation.service import ApplicationRequest, FaultReply, SecureConversationService, TokenReply
from wssc.conversation.settings import ServiceSettings
from wssc.conversation.stateless import COOKIE_TAG
from wssc.errors import BadContextToken, WsscError
from wssc.policy.wsdl import parse_wsdl
from wssc.tokens.x509 import self_signed

SERVICE = self_signed("fuzz service")
SEAL = ContextSeal(os.urandom(32))
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

#: (operation, element index, argument) applied to a parsed document
MUTATION = st.tuples(
    st.sampled_from(["drop", "duplicate", "rename", "clear-attributes", "retarget", "text"]),
    st.integers(0, 1 << 16),
    st.sampled_from(["#", "#EchoPolicy", "#nowhere", "http://evil/p", "Policy", "All", "ExactlyOne", "x" * 300]),
)


def _mutate(document: bytes, mutations: list[tuple[str, int, str]]) -> bytes:
    root = etree.fromstring(document)
    for operation, index, argument in mutations:
        elements = [e for e in root.iter() if isinstance(e.tag, str)]
        target = elements[index % len(elements)]
        parent = target.getparent()
        if operation == "drop" and parent is not None:
            parent.remove(target)
        elif operation == "duplicate" and parent is not None:
            parent.insert(parent.index(target), etree.fromstring(etree.tostring(target)))
        elif operation == "rename":
            local = argument[:20] if argument[:20].isidentifier() else "Renamed"
            target.tag = etree.QName(etree.QName(target).namespace or "urn:x", local).text
        elif operation == "clear-attributes":
            target.attrib.clear()
        elif operation == "retarget":
            target.set("URI", argument)
        elif operation == "text":
            target.text = argument
    return etree.tostring(root)


def _policy_wsdl() -> bytes:
    """A WCF-shaped WSDL with an SC token whose bootstrap is AnonymousForCertificate (as in test_zeep)."""
    from test_zeep import ADDRESS, BINDING_NS, SP12, WSDL, X509_TOKEN, _policy

    policy = _policy(SP12, X509_TOKEN.format(sp=SP12))
    text = WSDL.format(binding_ns=BINDING_NS["1.2"], address=ADDRESS).replace("<types>", policy + "<types>", 1)
    text = text.replace(
        '<binding name="EchoBinding" type="tns:EchoPortType">',
        '<binding name="EchoBinding" type="tns:EchoPortType"><wsp:PolicyReference '
        'xmlns:wsp="http://schemas.xmlsoap.org/ws/2004/09/policy" URI="#EchoPolicy"/>',
    )
    return text.encode()


POLICY_WSDL = _policy_wsdl()


def test_the_unmutated_policy_document_configures_a_client() -> None:
    (binding,) = parse_wsdl(POLICY_WSDL)
    config = configure_client(binding.policies[0], credentials=ClientCredentials(service_certificate=SERVICE[0]))
    assert isinstance(config.bootstrap, ClientBootstrap)


@FUZZ
@given(mutations=st.lists(MUTATION, min_size=1, max_size=5))
def test_mutated_policy_documents_parse_or_fail_typed(mutations: list[tuple[str, int, str]]) -> None:
    document = _mutate(POLICY_WSDL, mutations)
    try:
        bindings = parse_wsdl(document)
    except WsscError:
        return
    for binding in bindings:
        for policy in binding.policies:
            policy.unsupported()
            with contextlib.suppress(WsscError):
                configure_client(policy, credentials=ClientCredentials(service_certificate=SERVICE[0]))


def _context() -> SecurityContext:
    now = datetime.now(timezone.utc)
    return SecurityContext.new(os.urandom(32), now, claims=(Claim("name", "alice"),)).renewed(os.urandom(32), now)


@FUZZ
@given(position=st.integers(0, 10_000), xor=st.integers(1, 255), cut=st.integers(0, 10_000))
def test_a_changed_sealed_context_never_opens(position: int, xor: int, cut: int) -> None:
    context = _context()
    sealed = SEAL.seal(context, "store")
    changed = bytearray(sealed)
    changed[position % len(changed)] ^= xor
    for candidate in (bytes(changed), sealed[: cut % len(sealed)], sealed + bytes([xor])):
        with pytest.raises(BadContextToken):
            SEAL.open(candidate, context.identifier, "store")


@pytest.fixture(scope="module")
def stateless() -> tuple[SecureConversationService, ClientSession, bytes]:
    service = SecureConversationService(ServiceCredentials(*SERVICE), settings=ServiceSettings(stateless=SEAL))
    session = ClientSession(ClientBootstrap(SERVICE[0]), "http://svc/echo")
    event = service.receive(session.establish())
    assert isinstance(event, TokenReply)
    session.receive(event.reply.data)
    request = session.request(b'<e:echo xmlns:e="urn:e">x</e:echo>', "urn:e:echo")
    session._pending = None
    return service, session, request


@FUZZ
@given(text=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= \n", max_size=300))
def test_forged_cookies_get_a_fault_and_harm_no_context(
    stateless: tuple[SecureConversationService, ClientSession, bytes], text: str
) -> None:
    service, session, request = stateless
    root = etree.fromstring(request)
    cookie = next(root.iter(COOKIE_TAG))
    cookie.text = text
    event = service.receive(etree.tostring(root))
    assert isinstance(event, FaultReply)
    # The real context still works.
    call = service.receive(session.request(b'<e:echo xmlns:e="urn:e">still</e:echo>', "urn:e:echo"))
    assert isinstance(call, ApplicationRequest)
    assert isinstance(session.receive(service.respond(call, call.message.payload())), Response)
