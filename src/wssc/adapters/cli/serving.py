"""``wssc serve``: its options, the checks at start (:mod:`~wssc.adapters.cli.serve_checks`), the demo echo
service built from the options, and one process or ``--workers N`` of them on one port.

Several workers are uvicorn's (``uvicorn.run(..., workers=N)``): a supervisor binds the port and spawns N
processes that accept on it, each importing the app factory :func:`app_from_environment`, which builds the
service from the options the supervisor left in ``WSSC_SERVE_OPTIONS`` (JSON; the certificate and key are the
same files in every worker, their password in ``WSSC_KEY_PASSWORD``).  A request may reach any worker, so the
contexts must live where every worker finds them: in Redis (``--redis``) or in the SCT itself (``--stateless``);
in a worker's memory the other workers would refuse them.  A negotiation (``--bootstrap spnego|tlsnego``) keeps
its state between legs in the memory of one process, and nothing keeps a client's legs on one worker, so it is
refused with several workers.  Each worker names itself in an ``X-Wssc-Worker`` response header (its process
id), which shows the spread across workers; one process adds nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Final

import click

from wssc import versions
from wssc.adapters.asgi import Receive, Scope, Send, WsscApp
from wssc.adapters.cli.conversation import BOOTSTRAPS, SERVE_SUITES, build_app, development_certificate
from wssc.adapters.cli.negotiate import NEGOTIATIONS, serve_negotiator
from wssc.adapters.cli.observe import configure_logging, current_verbosity
from wssc.adapters.cli.serve_checks import (
    check_environment_keytab,
    check_keytab,
    check_ntlm_users,
    check_port,
    check_redis,
    read_certificate,
    read_users,
    service_credentials,
)
from wssc.adapters.keylog import KeyLog
from wssc.adapters.throttle import MAX_CONCURRENT_CALLS, MAX_QUEUED_CALLS, WorkerPool
from wssc.conversation.bootstrap import (
    ANONYMOUS_FOR_CERTIFICATE,
    CERTIFICATE_FOR_CERTIFICATE,
    MUTUAL_CERTIFICATE,
    USERNAME_FOR_CERTIFICATE,
    ServiceCredentials,
)
from wssc.conversation.negotiation import TLSNEGO_BOOTSTRAP
from wssc.primitives.algorithms import suite as suite_named
from wssc.tokens.x509_trust import CertificateTrust

#: the options of ``wssc serve`` (JSON), for its worker processes
OPTIONS_VARIABLE: Final = "WSSC_SERVE_OPTIONS"
#: the password of ``--key`` or of a PKCS#12 ``--cert`` (what ``--key-password`` defaults to)
KEY_PASSWORD_VARIABLE: Final = "WSSC_KEY_PASSWORD"
#: the response header naming the worker process that answered, with ``--workers`` 2 or more
WORKER_HEADER: Final = "X-Wssc-Worker"
#: the app factory the workers import (uvicorn's ``factory=True``)
FACTORY: Final = "wssc.adapters.cli.serving:app_from_environment"


@dataclass(frozen=True)
class ServeOptions:
    """``wssc serve``'s options, as its worker processes receive them (no password: that travels apart)."""

    host: str = "127.0.0.1"
    port: int = 8080
    sc_version: str = "1.3"
    cert_path: str | None = None
    key_path: str | None = None
    bootstrap: str = ANONYMOUS_FOR_CERTIFICATE
    users: str | None = None
    suite_name: str = "Basic256"
    anchors: tuple[str, ...] = ()
    intermediates: tuple[str, ...] = ()
    peers: tuple[str, ...] = ()
    require_client_cert: bool = False
    keytab: str | None = None
    spn: str | None = None
    ntlm_users: str | None = None
    redis_url: str | None = None
    stateless: bool = False
    threads: int = MAX_CONCURRENT_CALLS
    queue: int = MAX_QUEUED_CALLS
    workers: int = 1

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServeOptions:
        fields: dict[str, Any] = json.loads(text)
        for name in ("anchors", "intermediates", "peers"):
            fields[name] = tuple(fields[name])
        return cls(**fields)


def refuse_workers(options: ServeOptions) -> None:
    """``--workers`` 2 or more only where every worker can answer every request of a context."""
    if options.workers < 2:
        return
    if options.bootstrap in NEGOTIATIONS:
        raise click.UsageError(
            f"--workers {options.workers} cannot serve --bootstrap {options.bootstrap}: a negotiation keeps its state "
            "between legs in one process's memory,\nand nothing sends a client's next leg to the same worker; "
            "run one process"
        )
    if options.redis_url is None and not options.stateless:
        raise click.UsageError(
            f"--workers {options.workers} needs --redis URL or --stateless: a context would live in the memory of "
            "the worker that issued it,\nand the other workers would refuse it (wsc:BadContextToken)"
        )


def app_from_options(options: ServeOptions, password: str | None) -> tuple[WsscApp, list[str]]:
    """The demo echo service the options describe, every file read and checked, Redis pinged; and the notes
    the operator should read (printed once, by the supervisor)."""
    assert options.cert_path is not None, "the development certificate is resolved before"
    certificate, key = service_credentials(options.cert_path, options.key_path, password)
    bootstrap, notes = options.bootstrap, []
    user_table = None
    if bootstrap == USERNAME_FOR_CERTIFICATE and options.users is None:
        raise click.UsageError("--bootstrap username-for-certificate needs --users FILE")
    if options.users is not None and bootstrap in (USERNAME_FOR_CERTIFICATE, TLSNEGO_BOOTSTRAP):
        user_table = read_users(options.users)  # tlsnego with users: UserNameForSslNegotiated
    trust = None
    if options.anchors or options.peers:
        trust = CertificateTrust(
            peers=[read_certificate(p, "--trust-peer") for p in options.peers],
            anchors=[read_certificate(p, "--trust-anchor") for p in options.anchors],
            intermediates=[read_certificate(p, "--intermediate") for p in options.intermediates],
        )
    elif options.intermediates:
        raise click.UsageError("--intermediate needs --trust-anchor")
    elif bootstrap in (MUTUAL_CERTIFICATE, CERTIFICATE_FOR_CERTIFICATE):
        notes.append(
            f"{bootstrap} without --trust-anchor or --trust-peer: any client certificate whose "
            "signature verifies is accepted; its subject is the caller's claim"
        )
    negotiator = None
    if bootstrap in NEGOTIATIONS:
        if options.keytab is not None:
            check_keytab(options.keytab)
        elif bootstrap != TLSNEGO_BOOTSTRAP:
            check_environment_keytab()
        if options.ntlm_users is not None:
            check_ntlm_users(options.ntlm_users)
        try:
            negotiator = serve_negotiator(
                bootstrap,
                certificate,
                key,
                trust=trust,
                require_client_cert=options.require_client_cert,
                keytab=options.keytab,
                spn=options.spn,
                ntlm_users=options.ntlm_users,
            )
        except ValueError as exc:  # a malformed --spn, a user file gone since the check
            raise click.UsageError(f"--bootstrap {bootstrap}: {exc}") from None
    if options.redis_url is not None:
        check_redis(options.redis_url)
    app = build_app(
        ServiceCredentials(certificate, key, user_table, client_trust=trust),
        versions.by_name(options.sc_version),
        KeyLog.from_environment(),
        options.redis_url,
        options.stateless,
        bootstrap,
        suite_named(options.suite_name),
        WorkerPool(options.threads, options.queue),
        negotiator,
    )
    return app, notes


class WorkerHeader:
    """ASGI middleware: every HTTP response names this process in :data:`WORKER_HEADER`."""

    def __init__(self, app: WsscApp) -> None:
        self.app = app
        self.value = str(os.getpid()).encode("ascii")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def named(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (WORKER_HEADER.lower().encode("ascii"), self.value)]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, named)


#: how the supervisor's -v/-vv reaches the worker processes (they start without its logging set up)
VERBOSITY_VARIABLE: Final = "WSSC_SERVE_VERBOSITY"


def app_from_environment() -> WorkerHeader:
    """The app factory of a worker process: the service from ``WSSC_SERVE_OPTIONS``, checked as at start."""
    options = ServeOptions.from_json(os.environ[OPTIONS_VARIABLE])
    configure_logging(int(os.environ.get(VERBOSITY_VARIABLE, "0")))  # -v/-vv reach every worker
    try:
        app, _ = app_from_options(options, os.environ.get(KEY_PASSWORD_VARIABLE))
    except click.ClickException as exc:  # changed since the supervisor's check (Redis gone, a file replaced)
        exc.show()
        raise SystemExit(exc.exit_code) from None
    return WorkerHeader(app)


def run(options: ServeOptions, password: str | None) -> None:
    """Check everything, then serve on one process or ``options.workers``."""
    import uvicorn

    refuse_workers(options)
    if options.cert_path is None:
        if options.key_path is not None:
            raise click.UsageError("--key needs --cert")
        _, _, where = development_certificate(Path.cwd() / "wssc-dev")
        click.echo(f"development certificate: {where} (give it to clients with --server-cert)", err=True)
        options = replace(options, cert_path=str(where), key_path=str(where.with_name("service-key.pem")))
    app, notes = app_from_options(options, password)
    if options.workers > 1 and options.redis_url is None:
        notes.append(
            f"--stateless with {options.workers} workers: each worker detects replayed messages on its own (as WCF's "
            "replay cache, per host); --redis shares replay detection"
        )
    for note in notes:
        click.echo(note, err=True)
    check_port(options.host, options.port)
    processes = f", {options.workers} worker processes" if options.workers > 1 else ""
    click.echo(
        f"serving http://{options.host}:{options.port}/echo "
        f"({options.bootstrap}, {options.suite_name}, WS-SC {options.sc_version}{processes})",
        err=True,
    )
    if options.workers == 1:
        uvicorn.run(app, host=options.host, port=options.port, log_level="warning")
        return
    os.environ[OPTIONS_VARIABLE] = options.to_json()
    os.environ[VERBOSITY_VARIABLE] = str(current_verbosity())
    if password is not None:
        os.environ[KEY_PASSWORD_VARIABLE] = password
    uvicorn.run(
        FACTORY, factory=True, workers=options.workers, host=options.host, port=options.port, log_level="warning"
    )


def _pem_files(flag: str, name: str, text: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """A repeatable option naming PEM files."""
    kind = click.Path(exists=True, dir_okay=False)
    return click.option(flag, name, multiple=True, type=kind, help=text + " (repeatable)")


def _pool_bound(
    flag: str, minimum: int, default: int, text: str
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """An option bounding the worker pool (:mod:`wssc.adapters.throttle`)."""
    return click.option(flag, type=click.IntRange(min=minimum), default=default, show_default=True, help=text)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option("--sc-version", type=click.Choice(["1.3", "2005-02"]), default="1.3", show_default=True)
@click.option(
    "--cert",
    "cert_path",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="service certificate: PEM or DER with --key, or a PKCS#12 .pfx/.p12 holding the key",
)
@click.option("--key", "key_path", type=click.Path(exists=True, dir_okay=False), default=None, help="its private key")
@click.option(
    "--key-password",
    envvar="WSSC_KEY_PASSWORD",
    default=None,
    help="password of an encrypted --key or of a PKCS#12 --cert (default: WSSC_KEY_PASSWORD)",
)
@click.option("--bootstrap", type=click.Choice(BOOTSTRAPS), default=ANONYMOUS_FOR_CERTIFICATE, show_default=True)
@click.option("--users", type=click.Path(exists=True, dir_okay=False), default=None, help="name:password lines")
@click.option(
    "--suite",
    "suite_name",
    type=click.Choice(SERVE_SUITES),
    default="Basic256",
    show_default=True,
    help="algorithm suite, published at /echo?wsdl and demanded of every request",
)
@_pem_files("--trust-anchor", "anchors", "PEM CA certificate: client certificates must chain to one")
@_pem_files("--intermediate", "intermediates", "PEM intermediate CA certificate for --trust-anchor paths")
@_pem_files("--trust-peer", "peers", "PEM client certificate accepted as is")
@click.option("--require-client-cert", is_flag=True, help="tlsnego: MutualSslNegotiated, a client certificate")
@click.option("--keytab", type=click.Path(exists=True, dir_okay=False), default=None, help="spnego: Kerberos keytab")
@click.option("--spn", default=None, help="spnego: the service principal (default HTTP/<host>)")
@click.option("--ntlm-users", type=click.Path(exists=True, dir_okay=False), default=None, help="spnego: NTLM accounts")
@click.option(
    "--redis", "redis_url", default=None, help="redis://... : share contexts and replay detection with other nodes"
)
@click.option("--stateless", is_flag=True, help="issue cookie-mode contexts sealed with WSSC_SEAL_KEY; store nothing")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="processes serving the port (2 or more need --redis or --stateless)",
)
@_pool_bound("--threads", 1, MAX_CONCURRENT_CALLS, "requests verified and answered at once (WCF MaxConcurrentCalls)")
@_pool_bound("--queue", 0, MAX_QUEUED_CALLS, "requests waiting for a thread; beyond them HTTP 503")
def serve(key_password: str | None, **options: Any) -> None:
    """Run the demo echo service at /echo under WS-SecureConversation."""
    run(ServeOptions(**options), key_password)
