"""Legitimate protected requests of every kind, the starting points of the receive-path fuzz
(:mod:`receive_fuzz`, ``scripts/fuzz-receive``, ``tests/test_receive_fuzz.py``).

A :class:`Target` is one configured service: AnonymousForCertificate, UserNameForCertificate,
MutualCertificate, stateless (cookie) contexts, and bootstrap-protected application messages
(``accept_bootstrap_messages``).  Its :class:`Seed` requests cover the bootstrap Issue under each bootstrap,
application messages under a context, Renew, Amend, Cancel and Validate (under the context key and under the
bootstrap), TransportWithMessageCredential over TLS, in SOAP 1.1 and 1.2 and both WS-SC versions.  Every
seed has a context of its own, so that a mutant which renews or cancels one does not starve the others, and
every seed is checked to be accepted (:func:`check_seeds`) so that the fuzz starts from what the service
takes.  The clock is frozen at build time: Timestamps stay fresh however long the fuzz runs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from wssc.conversation.bootstrap import ClientBootstrap, MutualCertificateBootstrap, ServiceCredentials
from wssc.conversation.client import ClientSession, Response
from wssc.conversation.client_settings import ClientSettings
from wssc.conversation.context import SecurityContext
from wssc.conversation.sealing import ContextSeal
from wssc.conversation.service import ApplicationRequest, FaultReply, SecureConversationService, ServiceSettings
from wssc.conversation.store import InMemoryContextStore
from wssc.security.soap import SOAP11, SOAP12, SOAPVersion
from wssc.tokens.x509 import self_signed
from wssc.versions import SC_1_3, SC_2005_02, SCVersion

ADDRESS = "http://localhost/echo"
ECHO_ACTION = "urn:example:echo:echo"
USERS = {"alice": "correct horse battery staple"}
COMBOS: tuple[tuple[SCVersion, SOAPVersion], ...] = (
    (SC_1_3, SOAP12),
    (SC_1_3, SOAP11),
    (SC_2005_02, SOAP12),
    (SC_2005_02, SOAP11),
)
Pair = tuple[x509.Certificate, rsa.RSAPrivateKey]


def echo_body(text: str) -> bytes:
    return f'<e:echo xmlns:e="urn:example:echo"><e:text>{text}</e:text></e:echo>'.encode()


class FrozenClock:
    def __init__(self) -> None:
        self.now = datetime.now(timezone.utc).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now


@dataclasses.dataclass
class Target:
    """One service configuration; :meth:`service` makes a node of it over ``store``."""

    name: str
    credentials: ServiceCredentials
    settings: ServiceSettings
    clock: FrozenClock
    bootstrap: Callable[[], ClientBootstrap | MutualCertificateBootstrap]
    #: the contexts the seeds use, as issued (a fresh store for a pristine node is made of these)
    contexts: list[SecurityContext] = dataclasses.field(default_factory=list)

    def service(self, store: InMemoryContextStore | None = None) -> SecureConversationService:
        return SecureConversationService(self.credentials, store, self.settings, clock=self.clock)

    def pristine(self) -> SecureConversationService:
        """A node holding exactly the seeds' contexts, as they were issued, with an empty replay cache."""
        store = InMemoryContextStore()
        for context in self.contexts:
            store.add(context, self.clock())
        return self.service(store)

    def session(self, version: SCVersion, soap: SOAPVersion, **options: object) -> ClientSession:
        settings = ClientSettings(version=version, soap=soap, **options)  # type: ignore[arg-type]
        return ClientSession(self.bootstrap(), ADDRESS, settings, clock=self.clock)

    def establish(self, node: SecureConversationService, version: SCVersion, soap: SOAPVersion) -> ClientSession:
        session = self.session(version, soap)
        event = node.receive(session.establish())
        assert not isinstance(event, FaultReply), repr(event.error)
        session.receive(event.reply.data)
        assert session.context is not None
        if node.settings.stateless is None:
            self.contexts.append(session.context)
        return session


@dataclasses.dataclass(frozen=True)
class Seed:
    name: str
    target: Target
    data: bytes
    over_tls: bool = False
    #: the envelope before protection, and how the client protected it (same keys, fresh signature): mutants
    #: of ``plain`` protected again reach what the service does after authentication
    plain: bytes | None = None
    protect_again: Callable[[bytes], bytes] | None = None


def _recorded(session: ClientSession, make: Callable[[ClientSession], bytes]) -> dict[str, Any]:
    """Run ``make`` (a request of ``session``) recording the envelope it protects and how, as ``Seed`` fields."""
    seen: dict[str, Any] = {}
    under_context, bootstrap = session._protect_under, session.bootstrap

    def protect_under(context: SecurityContext, data: bytes, *options: Any, **more: Any) -> tuple[bytes, bytes | None]:
        seen.update(plain=data, protect_again=lambda d: under_context(context, d, *options, **more)[0])
        return under_context(context, data, *options, **more)

    class Recording:
        def __getattr__(self, name: str) -> Any:
            return getattr(bootstrap, name)

        def protect(self, data: bytes, *options: Any, **more: Any) -> tuple[bytes, Any]:
            seen.update(plain=data, protect_again=lambda d: bootstrap.protect(d, *options, **more)[0])
            return bootstrap.protect(data, *options, **more)

    session._protect_under = protect_under  # type: ignore[method-assign]
    session.bootstrap = Recording()  # type: ignore[assignment]
    seen["data"] = make(session)
    session._protect_under, session.bootstrap = under_context, bootstrap  # type: ignore[method-assign]
    return seen


def call_works(node: SecureConversationService, session: ClientSession, text: str = "probe") -> bool:
    """One full application round trip under ``session``'s context."""
    event = node.receive(session.request(echo_body(text), ECHO_ACTION))
    if not isinstance(event, ApplicationRequest):
        session._pending = None
        return False
    response = session.receive(node.respond(event, event.message.payload()))
    return isinstance(response, Response) and text in "".join(response.message.body.itertext())


def build(service_pair: Pair | None = None) -> tuple[list[Target], list[Seed]]:
    """The targets and their seeds (a few seconds: one RSA key pair per certificate, one Issue per seed)."""
    service_pair = service_pair or self_signed("fuzz service")
    client_pair, amender = self_signed("fuzz client"), self_signed("fuzz amender")
    certificate = service_pair[0]
    clock = FrozenClock()
    plain = ServiceCredentials(*service_pair)

    def target(
        name: str, credentials: ServiceCredentials, bootstrap: Callable[[], object], **settings: object
    ) -> Target:
        return Target(name, credentials, ServiceSettings(**settings), clock, bootstrap)  # type: ignore[arg-type]

    anonymous = target("anonymous", plain, lambda: ClientBootstrap(certificate))
    username = target(
        "username",
        ServiceCredentials(*service_pair, users=USERS),
        lambda: ClientBootstrap(certificate, username="alice", password=USERS["alice"]),
    )
    mutual = target("mutual", plain, lambda: MutualCertificateBootstrap(certificate, *client_pair))
    stateless = target("stateless", plain, lambda: ClientBootstrap(certificate), stateless=ContextSeal(b"s" * 32))
    bootstrap_messages = target(
        "bootstrap-messages", plain, lambda: ClientBootstrap(certificate), accept_bootstrap_messages=True
    )
    targets = [anonymous, username, mutual, stateless, bootstrap_messages]
    builders = {t.name: t.service() for t in targets}  # issue the seeds' contexts; the fuzz uses fresh nodes
    context_seeds: list[tuple[str, Callable[[ClientSession], bytes], Target]] = [
        ("call", lambda s: s.request(echo_body("seed"), ECHO_ACTION), anonymous),
        ("renew", lambda s: s.renew(), anonymous),
        ("amend", lambda s: s.amend(*amender), anonymous),
        ("cancel", lambda s: s.cancel(), anonymous),
        ("validate", lambda s: s.validate(), anonymous),
        ("validate-bootstrap", lambda s: s.validate(under_bootstrap=True), anonymous),
        ("call", lambda s: s.request(echo_body("seed"), ECHO_ACTION), stateless),
        ("renew", lambda s: s.renew(), stateless),
    ]
    seeds: list[Seed] = []
    for version, soap in COMBOS:
        combo = f"{version.name}-{soap.name}".replace(" ", "")
        for t in (anonymous, username, mutual, stateless):
            recorded = _recorded(t.session(version, soap), lambda s: s.establish())
            seeds.append(Seed(f"{t.name}/issue/{combo}", t, **recorded))
        for kind, make, t in context_seeds:
            recorded = _recorded(t.establish(builders[t.name], version, soap), make)
            seeds.append(Seed(f"{t.name}/{kind}/{combo}", t, **recorded))
        message = bootstrap_messages.session(version, soap, establish_security_context=False)
        recorded = _recorded(message, lambda s: s.request(echo_body("seed"), ECHO_ACTION))
        seeds.append(Seed(f"bootstrap-messages/call/{combo}", bootstrap_messages, **recorded))
        tls = username.session(version, soap, over_tls=True)
        recorded = _recorded(tls, lambda s: s.establish())
        seeds.append(Seed(f"username/tls-issue/{combo}", username, over_tls=True, **recorded))
    return targets, seeds


def check_seeds(seeds: list[Seed]) -> None:
    """Each seed is accepted by a pristine node of its target (the fuzz starts from legitimate requests)."""
    for seed in seeds:
        event = seed.target.pristine().receive(seed.data, over_tls=seed.over_tls)
        assert not isinstance(event, FaultReply), f"{seed.name}: {event.error!r}"
