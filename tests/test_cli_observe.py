"""Seeing what happens (issue 10): the ``wssc`` logger and ``-v``, the service's request log, the message trace
(``WSSC_TRACE``/``--trace``) and ``wssc inspect``, for a whole context life."""

from __future__ import annotations

import ast
import base64
import logging
import os
import stat
from pathlib import Path

import httpx
import pytest
from lxml import etree

from negotiation_support import wssc
from trace_support import CANCEL, ECHO, ESTABLISH, RENEW, traced, wire_names
from wssc.adapters.asgi import WsscApp, echo_handler
from wssc.adapters.http_client import WsscClient
from wssc.adapters.keylog import KeyLog
from wssc.adapters.trace import Tracer, label_of
from wssc.conversation.bootstrap import USERNAME_FOR_CERTIFICATE, ClientBootstrap, ServiceCredentials
from wssc.conversation.context import SecurityContext
from wssc.conversation.service import SecureConversationService, ServiceSettings
from wssc.errors import FailedAuthentication
from wssc.tokens.x509 import self_signed

SERVICE = self_signed("wssc observe test service")
PAYLOAD = b'<echo xmlns="urn:wssc:demo">plaintext-marker-4711</echo>'
ACTION = "urn:wssc:demo:echo"
PASSWORD = "Tr0ub4dor-and-3-more"
WRONG_PASSWORD = "wrong-Horse-Battery-9"


def _app(trace: Tracer | None = None, users: dict[str, str] | None = None) -> WsscApp:
    settings = ServiceSettings(bootstrap=USERNAME_FOR_CERTIFICATE) if users else None
    service = SecureConversationService(ServiceCredentials(*SERVICE, users=users), settings=settings)
    return WsscApp(service, default=echo_handler, trace=trace)


def _client(app: WsscApp, **options: object) -> WsscClient:
    http = httpx.Client(transport=httpx.WSGITransport(app=app.wsgi()))
    bootstrap = options.pop("bootstrap", None) or ClientBootstrap(SERVICE[0])
    return WsscClient("http://service.test/echo", bootstrap, http=http, **options)  # type: ignore[arg-type]


def _life(client: WsscClient) -> None:
    """A whole context life: establish, two calls, renew, a call, cancel."""
    client.establish()
    for _ in range(2):
        assert b"plaintext-marker-4711" in etree.tostring(client.call(etree.fromstring(PAYLOAD), ACTION).body)
    client.renew()
    client.call(etree.fromstring(PAYLOAD), ACTION)
    client.cancel()


# -- the trace -------------------------------------------------------------------------------------------------
def test_a_traced_context_life_files_in_order_with_decrypted_views_and_inspect(tmp_path: Path) -> None:
    client_dir, service_dir, keylog = tmp_path / "client", tmp_path / "service", tmp_path / "keys.log"
    app = _app(Tracer(service_dir))
    _life(_client(app, trace=Tracer(client_dir), keylog=KeyLog(str(keylog))))

    assert stat.S_IMODE(client_dir.stat().st_mode) == 0o700
    names = sorted(p.name for p in client_dir.iterdir())
    assert all(stat.S_IMODE((client_dir / n).stat().st_mode) == 0o600 for n in names)
    wire = traced(client_dir)[0]
    assert wire == wire_names(ESTABLISH, ECHO, ECHO, RENEW, ECHO, CANCEL)
    # every message has its decrypted view; the wire form hides the body, the decrypted view shows it
    assert names == sorted(wire + [n.replace(".xml", ".decrypted.xml") for n in wire])
    for name in ("0003-request-echo", "0004-response-echoResponse", "0009-request-echo"):
        assert b"plaintext-marker-4711" not in (client_dir / f"{name}.xml").read_bytes()
        assert b"plaintext-marker-4711" in (client_dir / f"{name}.decrypted.xml").read_bytes()
    assert b"RequestedTokenCancelled" in (client_dir / "0012-response-RSTR-SCT-Cancel.decrypted.xml").read_bytes()

    # the service traced what it received and sent, with the decrypted view of the application requests
    served_wire, served_decrypted = traced(service_dir)
    assert served_wire == wire
    assert served_decrypted == [
        "0003-request-echo.decrypted.xml",
        "0005-request-echo.decrypted.xml",
        "0009-request-echo.decrypted.xml",
    ]
    assert (service_dir / "0003-request-echo.xml").read_bytes() == (client_dir / "0003-request-echo.xml").read_bytes()

    # wssc inspect: every file readable; with the key log, the context messages verify and decrypt
    for name in names:
        plain = wssc("inspect", str(client_dir / name))
        assert plain.returncode == 0, plain.stderr
        assert "\x1b[" not in plain.stdout  # piped: no colour codes
        assert f"{name}: SOAP 1.2" in plain.stdout
    shown = wssc("inspect", str(client_dir / "0003-request-echo.xml")).stdout
    assert "SecurityContextToken" in shown and "DerivedKeyToken" in shown and "Nonce" in shown
    assert "Encrypted Body content" in shown and "aes256-cbc" in shown
    assert "Body encrypted (give --keylog to read it)" in shown and "plaintext-marker-4711" not in shown
    for name in ("0003-request-echo.xml", "0004-response-echoResponse.xml", "0009-request-echo.xml"):
        verified = wssc("inspect", str(client_dir / name), "--keylog", str(keylog))
        assert verified.returncode == 0
        assert "Signature verifies with the key of context urn:uuid:" in verified.stdout
        assert "plaintext-marker-4711" in verified.stdout.split("Decrypted Body", 1)[1]
    # the token requests of the bootstrap are not under a context key: said so, not a traceback
    bootstrap = wssc("inspect", str(client_dir / "0001-request-RST-SCT.xml"), "--keylog", str(keylog)).stdout
    assert "EncryptedKey" in bootstrap and "ThumbprintSHA1" in bootstrap and "cannot verify" in bootstrap


def test_inspect_lists_the_signature_of_a_message_whose_signature_is_not_encrypted(tmp_path: Path) -> None:
    key, identifier = b"k" * 32, "urn:uuid:0a8c2e0e-5cbb-4a63-9d41-1b8f8c6b7a11"
    (tmp_path / "in.xml").write_bytes(
        b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header><a:Action '
        b'xmlns:a="http://www.w3.org/2005/08/addressing">urn:x</a:Action></s:Header><s:Body>'
        + PAYLOAD
        + b"</s:Body></s:Envelope>"
    )
    b64 = base64.b64encode(key).decode()
    files = (str(tmp_path / "in.xml"), str(tmp_path / "out.xml"))
    protected = wssc("protect", "--key-b64", b64, "--context-id", identifier, "--sign-only", *files)
    assert protected.returncode == 0, protected.stderr
    shown = wssc("inspect", str(tmp_path / "out.xml")).stdout
    assert "Signed by DerivedKeyToken" in shown and "SecurityContextToken" in shown and identifier in shown
    assert "hmac-sha1" in shown and "Body" in shown and "Timestamp" in shown and "(digest http" in shown
    (tmp_path / "keys.log").write_text(f"# a comment\nCONTEXT {identifier} - {b64}\n")
    verified = wssc("inspect", str(tmp_path / "out.xml"), "--keylog", str(tmp_path / "keys.log")).stdout
    assert "Signature verifies" in verified and "plaintext-marker-4711" in verified
    (tmp_path / "other.log").write_text(f"CONTEXT {identifier} - {base64.b64encode(b'x' * 32).decode()}\n")
    wrong = wssc("inspect", str(tmp_path / "out.xml"), "--keylog", str(tmp_path / "other.log"))
    assert wrong.returncode == 0 and "cannot verify" in wrong.stdout and "plaintext-marker-4711" not in wrong.stdout


def test_inspect_refuses_what_is_not_a_soap_message_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "junk.xml").write_bytes(b"not xml at all")
    (tmp_path / "dtd.xml").write_bytes(b'<!DOCTYPE x [<!ENTITY e SYSTEM "http://example.invalid/">]><x>&e;</x>')
    (tmp_path / "bad.log").write_text("CONTEXT only-two-fields\n")
    for path in ("junk.xml", "dtd.xml"):
        ran = wssc("inspect", str(tmp_path / path))
        assert ran.returncode == 1 and "not a SOAP message" in ran.stderr and "Traceback" not in ran.stderr
    missing = wssc("inspect", str(tmp_path / "absent.xml"))
    assert missing.returncode == 1 and "absent.xml" in missing.stderr
    (tmp_path / "ok.xml").write_bytes(
        b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body/></s:Envelope>'
    )
    bad_log = wssc("inspect", str(tmp_path / "ok.xml"), "--keylog", str(tmp_path / "bad.log"))
    assert bad_log.returncode == 2 and "bad.log line 1" in bad_log.stderr


def test_trace_numbers_continue_and_labels_come_from_the_action(tmp_path: Path) -> None:
    (tmp_path / "0041-request-x.xml").write_bytes(b"")
    tracer = Tracer(tmp_path)
    assert tracer.reserve() == 42
    assert label_of(b"<not-xml") == "message"
    fault = b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><s:Fault/></s:Body></s:Envelope>'
    assert label_of(fault) == "Fault"
    hostile = (
        b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header><a:Action '
        b'xmlns:a="http://www.w3.org/2005/08/addressing">urn:x/../../etc/passwd\x0a</a:Action></s:Header><s:Body/>'
        b"</s:Envelope>"
    )
    assert "/" not in label_of(hostile) and ".." not in label_of(hostile).strip(".")


# -- logging ---------------------------------------------------------------------------------------------------
def test_the_service_logs_one_line_per_request_and_no_secret_ever(caplog: pytest.LogCaptureFixture) -> None:
    keys: list[SecurityContext] = []
    app = _app(users={"alice": PASSWORD})
    app.service.on_new_key = keys.append
    caplog.set_level(logging.DEBUG, logger="wssc")
    good = _client(app, bootstrap=ClientBootstrap(SERVICE[0], username="alice", password=PASSWORD), keylog=keys.append)
    _life(good)
    bad = _client(app, bootstrap=ClientBootstrap(SERVICE[0], username="alice", password=WRONG_PASSWORD))
    with pytest.raises(FailedAuthentication):
        bad.establish()

    served = [r.getMessage() for r in caplog.records if r.name == "wssc.adapters.observe" and r.levelno == logging.INFO]
    served = [line for line in served if not line.startswith("POST ")]  # the client's lines
    outcomes = [line.split()[-3] for line in served]
    assert outcomes == ["issued", "ok", "ok", "renewed", "ok", "cancelled", "wsse:FailedAuthentication"]
    identifier = keys[0].identifier
    assert all(line.startswith("127.0.0.1:") and line.endswith(" ms") for line in served)
    assert all(f" {identifier} " in line for line in served[:6]) and " - " in served[6]
    assert " urn:wssc:demo:echo ok " in served[1]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "authentication failed: wsse:FailedAuthentication" in warnings[0]

    secrets = [PASSWORD.encode(), WRONG_PASSWORD.encode()] + [c.key for c in keys]
    forms = {form for s in secrets for form in (s.decode("latin-1"), base64.b64encode(s).decode(), s.hex(), repr(s))}
    text = "\n".join(caplog.text.splitlines() + [r.getMessage() for r in caplog.records])
    assert keys and not [form for form in forms if form in text]


def test_v_works_before_and_after_the_command_and_counts_up(monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from wssc.adapters.cli import main
    from wssc.adapters.cli.observe import configure_logging

    logger = logging.getLogger("wssc")
    seen: list[int] = []
    monkeypatch.setattr(main.commands["derive"], "callback", lambda **kw: seen.append(logger.level))
    try:
        for args, level in (
            (["-v", "derive"], logging.INFO),
            (["derive", "-v"], logging.INFO),
            (["-v", "derive", "-v"], logging.DEBUG),
            (["derive", "-vv"], logging.DEBUG),
            (["derive"], logging.NOTSET),
        ):
            result = CliRunner().invoke(main, [*args, "--secret-b64", "AA==", "--nonce-b64", "AA=="])
            assert result.exit_code == 0, result.output
            assert seen.pop() == level, args
        assert logger.level == logging.NOTSET and not any(hasattr(h, "_wssc_cli_handler") for h in logger.handlers)
        for name, command in main.commands.items():
            assert "-v" in [o for p in command.params for o in getattr(p, "opts", [])], name
        traced = {n for n, c in main.commands.items() if any(p.name == "trace_directory" for p in c.params)}
        assert traced == {"call", "serve", "demo"}
    finally:
        configure_logging(0)


def test_the_v_handler_is_plain_when_piped(capsys: pytest.CaptureFixture[str]) -> None:
    from wssc.adapters.cli.observe import configure_logging

    configure_logging(1)
    try:
        logging.getLogger("wssc.test").info("a line")
        logging.getLogger("wssc.test").debug("hidden")
    finally:
        configure_logging(0)
    err = capsys.readouterr().err
    assert "INFO wssc.test: a line" in err and "hidden" not in err and "\x1b[" not in err


def test_every_module_logs_under_its_own_name_and_prints_nothing() -> None:
    """The house rule: ``logging.getLogger(__name__)`` or no logging; ``print`` only in the command line."""
    root = Path(__file__).resolve().parent.parent / "src" / "wssc"
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if isinstance(func, ast.Name) and func.id == "print":
                assert "adapters/cli" in path.as_posix(), f"print in {path}"
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "logging":
                if func.attr == "getLogger":
                    arg = node.args[0] if node.args else None
                    ok = isinstance(arg, ast.Name) and arg.id == "__name__"
                    ok = ok or (isinstance(arg, ast.Name) and arg.id == "LOGGER" and path.name == "observe.py")
                    assert ok, f"{path}:{node.lineno}: logging.getLogger without __name__"
                assert func.attr not in {"debug", "info", "warning", "error", "exception", "critical", "log"}, (
                    f"{path}:{node.lineno}: the root logger"
                )
    assert os.environ.get("WSSC_TRACE") is None


def test_inspect_names_the_user_and_the_certificate_never_the_password(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.serialization import Encoding

    der = base64.b64encode(SERVICE[0].public_bytes(Encoding.DER)).decode()
    wsse = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
    x509v3 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
    (tmp_path / "m.xml").write_text(
        f'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:o="{wsse}"><s:Header><o:Security>'
        f'<o:BinarySecurityToken ValueType="{x509v3}">{der}</o:BinarySecurityToken>'
        f"<o:UsernameToken><o:Username>alice</o:Username><o:Password>{PASSWORD}</o:Password></o:UsernameToken>"
        "</o:Security></s:Header><s:Body/></s:Envelope>"
    )
    shown = wssc("inspect", str(tmp_path / "m.xml"))
    assert shown.returncode == 0 and "SOAP 1.1 message" in shown.stdout
    assert "Subject CN=wssc observe test service" in shown.stdout
    assert "Username alice" in shown.stdout and "PasswordText (not shown)" in shown.stdout
    assert PASSWORD not in shown.stdout + shown.stderr


def test_the_v_handler_is_rich_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.logging import RichHandler

    from wssc.adapters.cli.observe import configure_logging

    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    configure_logging(2)
    try:
        logger = logging.getLogger("wssc")
        assert logger.level == logging.DEBUG and any(isinstance(h, RichHandler) for h in logger.handlers)
    finally:
        configure_logging(0)
    assert not any(isinstance(h, RichHandler) for h in logging.getLogger("wssc").handlers)


def test_a_trace_directory_that_cannot_be_one_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    ran = wssc(
        "call", "http://127.0.0.1:9/echo", "--server-cert", str(tmp_path / "file"), "--trace", str(tmp_path / "file")
    )
    assert ran.returncode == 2 and "--trace" in ran.stderr and "Traceback" not in ran.stderr
    assert os.environ.get("WSSC_TRACE") is None


def test_a_failed_handler_logs_its_fault_code_not_ok(caplog: pytest.LogCaptureFixture) -> None:
    from wssc.errors import RequestFailed

    app = _app()

    @app.operation("urn:wssc:demo:boom")
    def boom(request: object) -> bytes:
        raise RuntimeError("a bug")

    caplog.set_level(logging.INFO, logger="wssc")
    client = _client(app)
    with pytest.raises(RequestFailed):
        client.call(etree.fromstring(PAYLOAD), "urn:wssc:demo:boom")
    served = [r.getMessage() for r in caplog.records if r.name == "wssc.adapters.observe"]
    served = [line for line in served if not line.startswith("POST ")]
    assert [line.split()[2:4] for line in served] == [
        ["http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/SCT", "issued"],
        ["urn:wssc:demo:boom", "wst:RequestFailed"],
    ]
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]


def test_the_asyncio_client_and_the_asgi_entry_point_trace_and_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import asyncio

    from wssc.adapters.http_client import AsyncWsscClient

    app = _app(Tracer(tmp_path / "service"))
    caplog.set_level(logging.INFO, logger="wssc")

    async def life() -> None:
        transport = httpx.ASGITransport(app=app, client=("192.0.2.7", 4242))
        http = httpx.AsyncClient(transport=transport)
        client = AsyncWsscClient(
            "http://service.test/echo", ClientBootstrap(SERVICE[0]), http=http, trace=Tracer(tmp_path / "c2")
        )
        await client.call(etree.fromstring(PAYLOAD), ACTION)
        await client.aclose()
        await http.aclose()

    asyncio.run(life())
    assert traced(tmp_path / "c2") == (
        wire_names(ESTABLISH, ECHO, CANCEL),
        [n.replace(".xml", ".decrypted.xml") for n in wire_names(ESTABLISH, ECHO, CANCEL)],
    )
    assert b"plaintext-marker-4711" in (tmp_path / "c2" / "0004-response-echoResponse.decrypted.xml").read_bytes()
    served = [r.getMessage() for r in caplog.records if r.getMessage().startswith("192.0.2.7:4242 ")]
    assert [line.split()[-3] for line in served] == ["issued", "ok", "cancelled"]
    assert traced(tmp_path / "service")[0] == wire_names(ESTABLISH, ECHO, CANCEL)
