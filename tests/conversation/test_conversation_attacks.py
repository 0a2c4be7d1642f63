"""Issue 7: attacks on the binding of a message to one authenticating token, on the service's oracles, on
routing and on what the application reads.  Each attack is named after the finding it reproduces; beside
each family a positive control shows the legitimate message accepted (so the refusal is the verifier's
doing), and a bystander's live context is checked afterwards.

The attacker builds messages as an attacker would: from captured messages and its own (anonymous) bootstrap
key, re-signing with that key (:func:`graft_and_resign`)."""

from __future__ import annotations

import base64
import copy
import dataclasses
import uuid
from datetime import timedelta

import pytest
from conversation_support import ADDRESS, ECHO_ACTION, World, echo_body, make_world
from cryptography.hazmat.primitives import hashes
from lxml import etree

from wssc import namespaces as ns
from wssc.conversation.bootstrap import ClientBootstrap, ServiceCredentials
from wssc.conversation.client import ClientSession
from wssc.conversation.client_settings import ClientSettings
from wssc.conversation.service import ApplicationRequest, FaultReply, ServiceSettings, TokenReply
from wssc.errors import BadContextToken, InvalidSecurity, MustUnderstand, RenewNeeded, WsscError
from wssc.primitives import algorithms as alg
from wssc.primitives.xml import c14n, parse
from wssc.security import dsig
from wssc.security.keys import ContextProtection, EncryptedKeyProtection, ReferencedKeyProtection, StaticKeys
from wssc.security.policy import ProtectionOrder, ProtectionPolicy, Requirements
from wssc.security.protect import protect
from wssc.security.soap import SOAP12
from wssc.security.unprotect import Receiver
from wssc.tokens.dkt import DerivedKeyToken
from wssc.tokens.encrypted_key import EncryptedKey
from wssc.tokens.reference import KeyIdentifier, Reference, SecurityTokenReference
from wssc.tokens.username import UsernameToken
from wssc.tokens.x509 import X509Token
from wssc.trust import actions
from wssc.trust.elements import RequestType
from wssc.trust.rst import RequestSecurityToken
from wssc.versions import SC_1_3

NS = {
    "wsse": ns.WSSE,
    "wsu": ns.WSU,
    "ds": ns.DS,
    "xenc": ns.XENC,
    "wsa": ns.WSA10,
    "sc": SC_1_3.sc,
}
#: the attacker's own layout: signature over the cipher text, in clear, before the ReferenceList
ENCRYPT_BEFORE_SIGN = ProtectionPolicy(order=ProtectionOrder.ENCRYPT_BEFORE_SIGN, encrypt_signature=False)
USERS = {"alice": "alice-secret", "mallory": "mallory-secret"}


@pytest.fixture
def world(credentials: ServiceCredentials) -> World:
    users = ServiceCredentials(credentials.certificate, credentials.private_key, users=USERS)
    return make_world(SC_1_3, SOAP12, users)


def _security(root: etree._Element) -> etree._Element:
    (security,) = root.xpath("//wsse:Security", namespaces=NS)
    return security


def _by_id(root: etree._Element, value: str) -> etree._Element:
    (found,) = root.xpath(f"//*[@wsu:Id='{value}' or @Id='{value}']", namespaces=NS)
    return found


def _key_info_target(el: etree._Element) -> str:
    (uri,) = el.xpath("ds:KeyInfo/wsse:SecurityTokenReference/wsse:Reference/@URI", namespaces=NS)
    return str(uri)[1:]


def _signature_key(root: etree._Element, base_secret: bytes) -> bytes:
    """The attacker's own signing key: its signature DKT, derived from its own EncryptedKey."""
    signature = root.find(".//" + dsig.SIGNATURE_TAG)
    assert signature is not None
    dkt = _by_id(root, _key_info_target(signature))
    return DerivedKeyToken.from_element(dkt).derive(base_secret)


def graft_and_resign(root: etree._Element, base_secret: bytes, extra: list[etree._Element]) -> bytes:
    """Add ``extra`` elements to the signature's references and sign again with the attacker's key."""
    signature = root.find(".//" + dsig.SIGNATURE_TAG)
    assert signature is not None
    signed_info = signature.find(ns.qn(ns.DS, "SignedInfo"))
    assert signed_info is not None
    template = signed_info.find(ns.qn(ns.DS, "Reference"))
    assert template is not None
    for element in extra:
        reference = copy.deepcopy(template)
        reference.set("URI", "#" + (element.get(ns.WSU_ID) or element.get("Id") or ""))
        signed_info.append(reference)
    for reference in signed_info.iterfind(ns.qn(ns.DS, "Reference")):
        target = _by_id(root, reference.get("URI", "")[1:])
        h = hashes.Hash(hashes.SHA1())
        h.update(c14n(target))
        reference.find(ns.qn(ns.DS, "DigestValue")).text = base64.b64encode(h.finalize()).decode()  # type: ignore[union-attr]
    method = signed_info.find(ns.qn(ns.DS, "SignatureMethod")).get("Algorithm") or alg.HMAC_SHA1  # type: ignore[union-attr]
    value = dsig.hmac_value(method, _signature_key(root, base_secret), c14n(signed_info))
    signature.find(ns.qn(ns.DS, "SignatureValue")).text = base64.b64encode(value).decode()  # type: ignore[union-attr]
    return etree.tostring(root)


def _attacker_issue(world: World) -> tuple[etree._Element, bytes]:
    """The attacker's own anonymous Issue request (encrypt-before-sign) and its EncryptedKey's secret."""
    attacker = ClientSession(
        ClientBootstrap(world.certificate, policy=ENCRYPT_BEFORE_SIGN), ADDRESS,
        ClientSettings(version=world.version, soap=world.soap), clock=world.clock,
    )
    data = attacker.establish()
    pending = attacker._pending
    assert pending is not None and pending.bootstrap is not None
    return parse(data), pending.bootstrap.secret  # type: ignore[attr-defined]


# -- finding 1: impersonation with a captured login --------------------------------------------------------------


def test_attack_captured_login_grafted_onto_an_anonymous_issue(world: World) -> None:
    victim = world.session(username="alice", password=USERS["alice"])
    captured = parse(victim.establish())
    # positive control: the victim's own request is accepted (and would make alice's context)
    control = world.service.receive(etree.tostring(captured))
    assert not isinstance(control, FaultReply), repr(control)

    root, secret = _attacker_issue(world)
    security = _security(root)
    victim_security = _security(captured)
    victim_ek = victim_security.find(ns.qn(ns.XENC, "EncryptedKey"))
    username_ed = victim_security.find(ns.qn(ns.XENC, "EncryptedData"))  # the UsernameToken comes first
    assert victim_ek is not None and username_ed is not None
    victim_dkt = _by_id(captured, _key_info_target(username_ed))
    for part in (victim_ek, victim_dkt, username_ed):
        security.append(copy.deepcopy(part))
    reference_list = security.find(ns.qn(ns.XENC, "ReferenceList"))
    assert reference_list is not None
    etree.SubElement(reference_list, ns.qn(ns.XENC, "DataReference"), URI="#" + (username_ed.get("Id") or ""))
    forged = graft_and_resign(root, secret, [security[-1]])

    event = world.service.receive(forged)
    assert isinstance(event, FaultReply), f"impersonated alice: {type(event).__name__}"
    world.call(world.establish(username="mallory", password=USERS["mallory"]), "the service still serves")


def test_attack_two_encryption_tokens_in_one_message_are_refused_by_the_binding_itself(world: World) -> None:
    """The same graft with the limit on EncryptedKeys raised: the one-token binding refuses it on its own."""
    from wssc.limits import Limits

    victim = world.session(username="alice", password=USERS["alice"])
    captured = parse(victim.establish())
    root, secret = _attacker_issue(world)
    security, victim_security = _security(root), _security(captured)
    victim_ek = victim_security.find(ns.qn(ns.XENC, "EncryptedKey"))
    username_ed = victim_security.find(ns.qn(ns.XENC, "EncryptedData"))
    assert victim_ek is not None and username_ed is not None
    for part in (victim_ek, _by_id(captured, _key_info_target(username_ed)), username_ed):
        security.append(copy.deepcopy(part))
    forged = graft_and_resign(root, secret, [security[-1]])
    receiver = Receiver(
        world.service.credentials.resolver(), Requirements(encrypted_body=True), limits=Limits(max_encrypted_keys=2)
    )
    with pytest.raises(InvalidSecurity, match=r"different tokens|another token than the one that signs"):
        receiver.unprotect(forged, now=world.clock())


# -- finding 2: reading a victim's messages ----------------------------------------------------------------------


def test_attack_victim_body_under_the_attackers_bootstrap_signature(credentials: ServiceCredentials) -> None:
    world = make_world(SC_1_3, SOAP12, credentials, settings=ServiceSettings(accept_bootstrap_messages=True))
    victim = world.establish()
    captured = parse(victim.request(echo_body("the victim's secret"), ECHO_ACTION))
    # positive control: the victim's call is accepted under its context
    control = world.service.receive(etree.tostring(captured))
    assert isinstance(control, ApplicationRequest) and control.context is not None
    victim.receive(world.service.respond(control, control.message.payload()[0]))

    plain = world.envelope(echo_body("mallory"), ECHO_ACTION)
    bootstrap = ClientBootstrap(world.certificate, policy=ENCRYPT_BEFORE_SIGN)
    data, pending = bootstrap.protect(plain, world.version, world.clock())
    root = parse(data)
    (body,) = root.xpath("/*/*[local-name()='Body']")
    (victim_body,) = captured.xpath("/*/*[local-name()='Body']")
    victim_ed = victim_body[0]
    body[0].getparent().replace(body[0], copy.deepcopy(victim_ed))
    security, victim_security = _security(root), _security(captured)
    dkt = _by_id(captured, _key_info_target(victim_ed))
    sct = victim_security.find(SC_1_3.sc_qname("SecurityContextToken"))
    assert sct is not None
    reference_list = security.find(ns.qn(ns.XENC, "ReferenceList"))
    assert reference_list is not None
    reference_list.addprevious(copy.deepcopy(sct))
    reference_list.addprevious(copy.deepcopy(dkt))
    reference_list[0].set("URI", "#" + (victim_ed.get("Id") or ""))
    forged = graft_and_resign(root, pending.secret, [])

    event = world.service.receive(forged)
    assert isinstance(event, FaultReply), "the service decrypted the victim's body for the attacker"
    world.call(victim, "the victim's context is unharmed")


# -- finding 6: no oracle on a context's state -------------------------------------------------------------------


def _unsigned_with_identifier(world: World, identifier: str) -> bytes:
    sct = (
        f'<c:SecurityContextToken xmlns:c="{SC_1_3.sc}"><c:Identifier>{identifier}</c:Identifier>'
        "</c:SecurityContextToken>"
    )
    plain = world.envelope(echo_body("probe"), ECHO_ACTION)
    security = f'<wsse:Security xmlns:wsse="{ns.WSSE}">{sct}</wsse:Security>'
    return plain.replace(b"<s:Header>", b"<s:Header>" + security.encode(), 1)


def test_attack_context_state_oracle_by_unsigned_identifier(world: World) -> None:
    live = world.establish(username="alice", password=USERS["alice"])
    expired = world.establish(username="alice", password=USERS["alice"])
    cancelled = world.establish(username="alice", password=USERS["alice"])
    world.service.receive(cancelled.cancel())
    world.call(live, "in use")
    world.call(expired, "in use")
    expired_context = expired.context
    assert live.context is not None and expired_context is not None and cancelled.context is not None
    stored = world.stored(expired_context)
    assert stored is not None
    world.service.store.replace(stored, dataclasses.replace(stored, expires=world.clock()), world.clock())
    world.clock.advance(seconds=1)
    probes = {
        "live": live.context.identifier,
        "expired": expired_context.identifier,
        "cancelled": cancelled.context.identifier,
        "unknown": "urn:uuid:" + str(uuid.uuid4()),
    }
    faults = {}
    for state, identifier in probes.items():
        event = world.service.receive(_unsigned_with_identifier(world, identifier))
        assert isinstance(event, FaultReply)
        faults[state] = (type(event.error), event.reply.data)
    assert len({cls for cls, _ in faults.values()}) == 1, {s: c.__name__ for s, (c, _) in faults.items()}
    assert len({data for _, data in faults.values()}) == 1
    world.call(live, "the live context still works")


def test_renew_needed_is_told_to_the_key_holder_only(world: World) -> None:
    """Positive control of the oracle fix: the holder of an expired context still hears wsc:RenewNeeded, the
    holder of a cancelled one wsc:BadContextToken, as WS-SC 1.3 section 9 says."""
    other = world.establish(username="alice", password=USERS["alice"])
    assert other.context is not None
    cancelled = world.holding(other.context)
    other.receive(world.service.receive(other.cancel()).reply.data)  # type: ignore[union-attr]
    world.expect_fault(cancelled.request(echo_body("gone"), ECHO_ACTION), BadContextToken, cancelled)
    session = world.establish(username="alice", password=USERS["alice"])
    assert session.context is not None
    world.call(session, "in use")  # a context never used is dropped after the inactivity timeout
    world.clock.now = session.context.expires + timedelta(seconds=1)
    world.expect_fault(session.request(echo_body("late"), ECHO_ACTION), RenewNeeded, session)


# -- finding 7: routing on an unauthenticated SOAPAction ---------------------------------------------------------


def test_attack_signed_action_moved_into_another_header(world: World) -> None:
    session = world.establish(username="alice", password=USERS["alice"])
    data = session.request(echo_body("hello"), ECHO_ACTION)
    control = world.service.receive(data, transport_action="urn:evil:delete-everything")
    assert isinstance(control, ApplicationRequest) and control.action == ECHO_ACTION  # the signed one wins
    session.receive(world.service.respond(control, control.message.payload()[0]))
    root = parse(session.request(echo_body("hello"), ECHO_ACTION))
    (action,) = root.xpath("//wsa:Action", namespaces=NS)
    wrapper = etree.Element("{urn:evil}Wrapper")
    action.addprevious(wrapper)
    wrapper.append(action)
    event = world.service.receive(etree.tostring(root), transport_action="urn:evil:delete-everything")
    assert isinstance(event, FaultReply), f"routed on {getattr(event, 'action', None)!r}"


# -- finding 9: what the application reads ------------------------------------------------------------------------


def test_attack_comment_splits_signed_text() -> None:
    key = b"k" * 32
    sct_id = "urn:uuid:" + str(uuid.uuid4())
    from wssc.tokens.sct import SecurityContextToken

    token = ContextProtection(SecurityContextToken(sct_id, wsu_id="SCT-1"), key)
    plain = (
        b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>'
        b'<m:pay xmlns:m="urn:m"><m:amount>1000</m:amount></m:pay></s:Body></s:Envelope>'
    )
    data = protect(plain, token, ProtectionPolicy(encrypt=False)).data
    receiver = Receiver(StaticKeys({sct_id: key}), Requirements(signed_addressing_headers=False))
    assert receiver.unprotect(data).body.findtext(".//{urn:m}amount") == "1000"  # positive control
    forged = data.replace(b">1000<", b">1<!-- the rest -->000<")
    verified = Receiver(StaticKeys({sct_id: key}), Requirements(signed_addressing_headers=False)).unprotect(forged)
    assert verified.body.findtext(".//{urn:m}amount") == "1000"


def test_attack_unknown_must_understand_header_reaches_the_application(credentials: ServiceCredentials) -> None:
    custom = ns.qn("urn:example:x", "Transaction")
    header = etree.Element(custom, nsmap={"x": "urn:example:x"})
    header.set(ns.qn(ns.SOAP12, "mustUnderstand"), "true")
    header.text = "2pc"
    for understood, expected in (((), MustUnderstand), ((custom,), None)):
        world = make_world(SC_1_3, SOAP12, credentials, settings=ServiceSettings(understood_headers=understood))
        session = world.establish()
        event = world.service.receive(session.request(echo_body("hello"), ECHO_ACTION, [copy.deepcopy(header)]))
        if expected is None:
            assert isinstance(event, ApplicationRequest)  # positive control: the application understands it
        else:
            assert isinstance(event, FaultReply) and type(event.error) is expected
            assert b"MustUnderstand" in event.reply.data
            session._pending = None
        world.call(world.establish(), "a bystander is served")


def test_attack_unsigned_signature_confirmation_is_not_counted(credentials: ServiceCredentials) -> None:
    world = make_world(SC_1_3, SOAP12, credentials)
    bootstrap = ClientBootstrap(world.certificate)
    _, pending = bootstrap.protect(world.envelope(echo_body("x"), ECHO_ACTION), world.version, world.clock())
    reference = SecurityTokenReference(KeyIdentifier(ns.ENCRYPTED_KEY_SHA1, pending.encrypted_key_sha1))
    response = world.envelope(echo_body("answer"), ECHO_ACTION + "Response")
    confirmed = protect(
        response, ReferencedKeyProtection(pending.secret, reference), now=world.clock(),
        signature_confirmations=(pending.signature_value,),
    ).data
    requirements = Requirements(encrypted_body=True)
    pending.unprotect(confirmed, requirements, world.clock())  # positive control
    unconfirmed = parse(protect(response, ReferencedKeyProtection(pending.secret, reference), now=world.clock()).data)
    confirmation = etree.SubElement(_security(unconfirmed), ns.qn(ns.WSSE11, "SignatureConfirmation"))
    confirmation.set("Value", base64.b64encode(pending.signature_value or b"").decode())
    with pytest.raises(InvalidSecurity, match="confirm"):
        pending.unprotect(etree.tostring(unconfirmed), requirements, world.clock())


def test_cancel_target_by_local_reference_to_the_carried_sct(world: World) -> None:
    """An independent WS-Trust client names the SCT it carries by ``#wsu:Id`` in CancelTarget."""
    session = world.establish(username="alice", password=USERS["alice"])
    context = session.context
    assert context is not None
    sct = context.sct()
    assert sct.wsu_id
    rst = RequestSecurityToken(
        request_type=RequestType.CANCEL,
        context="uuid-" + str(uuid.uuid4()),
        cancel_target=SecurityTokenReference(Reference("#" + sct.wsu_id, world.version.sct_token_type)),
    )
    action = actions.request_action(world.version, RequestType.CANCEL)
    event = world.service.receive(world.context_signed(context, rst.to_element(world.version), action))
    assert isinstance(event, TokenReply), repr(getattr(event, "error", event))
    assert world.stored(context) is None
    # and a local reference to anything else is not the context
    other = world.establish(username="alice", password=USERS["alice"])
    assert other.context is not None
    rst = RequestSecurityToken(
        request_type=RequestType.CANCEL,
        context="uuid-" + str(uuid.uuid4()),
        cancel_target=SecurityTokenReference(Reference("#not-the-sct", world.version.sct_token_type)),
    )
    event = world.service.receive(world.context_signed(other.context, rst.to_element(world.version), action))
    assert isinstance(event, FaultReply) and isinstance(event.error, WsscError)
    assert world.stored(other.context) is not None


# -- finding 1: a UsernameToken is fresh ---------------------------------------------------------------------------


def _with_username(world: World, token: UsernameToken) -> bytes:
    """A bootstrap application message carrying ``token`` signed and encrypted, as UserNameForCertificate."""
    reference = X509Token(world.certificate).reference("thumbprint")
    ek, secret = EncryptedKey.create(world.certificate, reference, length=32)
    assert token.wsu_id is not None
    return protect(
        world.envelope(echo_body("hello"), ECHO_ACTION),
        EncryptedKeyProtection(ek, secret),
        now=world.clock(),
        supporting_tokens=[(token.wsu_id, token.to_xml())],
    ).data


def test_attack_old_or_replayed_username_token(credentials: ServiceCredentials) -> None:
    users = ServiceCredentials(credentials.certificate, credentials.private_key, users=USERS)
    world = make_world(SC_1_3, SOAP12, users, settings=ServiceSettings(accept_bootstrap_messages=True))
    fresh = UsernameToken.create("alice", USERS["alice"], digest=True, created=world.clock(), wsu_id="UT-1")
    event = world.service.receive(_with_username(world, fresh))
    assert isinstance(event, ApplicationRequest), repr(getattr(event, "error", event))  # positive control
    # the same token (same Nonce) in a new message of its own
    again = world.service.receive(_with_username(world, fresh))
    assert isinstance(again, FaultReply)
    stale = UsernameToken.create(
        "alice", USERS["alice"], digest=True, created=world.clock() - timedelta(days=1), wsu_id="UT-2"
    )
    old = world.service.receive(_with_username(world, stale))
    assert isinstance(old, FaultReply)
    world.call(world.establish(username="alice", password=USERS["alice"]), "alice is still served")


def test_rapid_renewals_keep_a_bounded_context(world: World) -> None:
    """Found by the concurrency run: every renewal inside the rollover window kept one more previous key,
    so a client renewing fast grew its context (and a sealed record or cookie) until sealing failed."""
    from wssc.conversation.context import MAX_PREVIOUS_INSTANCES

    session = world.establish(username="alice", password=USERS["alice"])
    for _ in range(20):
        session.receive(world.service.receive(session.renew()).reply.data)  # type: ignore[union-attr]
    stored = world.stored(session)
    assert stored is not None and len(stored.previous) == MAX_PREVIOUS_INSTANCES
    world.call(session, "the renewed context works")
