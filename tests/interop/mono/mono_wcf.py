"""Python side of the Mono WCF (System.ServiceModel) interoperability tests.

``build`` compiles ``MonoEcho.cs`` with ``mcs``; ``MonoService`` runs it as a long-lived echo service
(one Mono process per test session: Mono's start-up is slow); ``run_client`` runs it once as a client.
``WsscServer`` serves one or more :class:`~wssc.adapters.asgi.WsscApp` over loopback HTTP with uvicorn and
records every request and response, so tests can look at (and replay) exactly what Mono put on the wire.

Needs ``apt-get install mono-devel libmono-system-servicemodel4.0a-cil`` (Debian 12; scripts/test-deps).
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import PrivateFormat, pkcs12
from lxml import etree

from wssc.adapters.asgi import lifespan
from wssc.conversation.bootstrap import ServiceCredentials
from wssc.conversation.service import SecureConversationService, ServiceSettings
from wssc.security.policy import ProtectionPolicy
from wssc.versions import SC_2005_02

SOURCE = Path(__file__).resolve().parent / "MonoEcho.cs"
SERVICE_MODEL = Path("/usr/lib/mono/4.5/System.ServiceModel.dll")
REFERENCES = ("System.ServiceModel", "System.Runtime.Serialization", "System.IdentityModel", "System.Xml")
PFX_PASSWORD = "wssc-interop"

#: what the C# program's contract uses (IEcho.Echo)
ACTION = "urn:wssc:demo:echo"
REPLY_ACTION = "urn:wssc:demo:echoResponse"
ECHO_NS = "urn:wssc:demo"

XENC = "http://www.w3.org/2001/04/xmlenc#"

#: wssc service paths: wssc's defaults, and the workaround for Mono re-serializing signed WS-A headers
STRICT_PATH = "/strict/echo"
COMPAT_PATH = "/echo"

#: Mono re-serializes the WS-Addressing headers it reads with its own prefixes (``u:Id``), which changes
#: their exclusive-c14n form when the sender used another prefix for wsu; leaving them unsigned avoids it.
MONO_COMPATIBLE_POLICY = ProtectionPolicy(sign_addressing_headers=False)


class MonoError(RuntimeError):
    """The Mono program failed to build or start (as opposed to rejecting a message)."""


def missing_prerequisites() -> list[str]:
    missing = [
        f"`{tool}` not on PATH (apt-get install mono-devel)" for tool in ("mono", "mcs") if shutil.which(tool) is None
    ]
    if not SERVICE_MODEL.exists():
        missing.append(f"{SERVICE_MODEL} not found (apt-get install libmono-system-servicemodel4.0a-cil)")
    return missing


def build(build_dir: Path) -> Path:
    """Compile MonoEcho.exe unless an up-to-date one exists."""
    build_dir.mkdir(parents=True, exist_ok=True)
    exe = build_dir / "MonoEcho.exe"
    if exe.exists() and exe.stat().st_mtime >= SOURCE.stat().st_mtime:
        return exe
    command = ["mcs", "-nologo", "-warn:0", f"-out:{exe}", *(f"-r:{r}" for r in REFERENCES), str(SOURCE)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        raise MonoError(f"mcs failed:\n{done.stdout}\n{done.stderr}")
    return exe


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- certificates --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ServiceCertificate:
    certificate: x509.Certificate
    private_key: rsa.RSAPrivateKey = field(repr=False)
    pem_path: Path
    pfx_path: Path


def write_certificate(certificate: x509.Certificate, key: rsa.RSAPrivateKey, directory: Path) -> ServiceCertificate:
    """PEM for Mono clients, PKCS#12 for the Mono service.  Mono's PKCS#12 reader predates PBES2, so the
    file uses the legacy 3DES/SHA-1 encryption that every .NET reads."""
    pem = directory / "service.pem"
    pem.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    legacy = (
        PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(2048)
        .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
        .hmac_hash(hashes.SHA1())
        .build(PFX_PASSWORD.encode())
    )
    pfx = directory / "service.pfx"
    pfx.write_bytes(pkcs12.serialize_key_and_certificates(b"service", key, certificate, None, legacy))
    return ServiceCertificate(certificate, key, pem, pfx)


# -- the Mono program ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClientRun:
    returncode: int
    stdout: str
    stderr: str

    def line(self, tag: str) -> str | None:
        for line in self.stdout.splitlines():
            if line.startswith(tag + " "):
                return line[len(tag) + 1 :]
        return None


def run_client(
    exe: Path,
    url: str,
    cert_pem: Path,
    text: str,
    sc: str = "2005-02",
    timeout: float = 120,
    env: dict[str, str] | None = None,
) -> ClientRun:
    done = subprocess.run(
        ["mono", str(exe), "client", url, str(cert_pem), text, sc],
        cwd=exe.parent,  # where Mono writes a crash report (mono_crash.*.json): the build directory
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=dict(os.environ, **env) if env else None,
    )
    return ClientRun(done.returncode, done.stdout, done.stderr)


class MonoService:
    """``MonoEcho.exe service``: http://127.0.0.1:PORT/echo until closed (it exits when its stdin closes)."""

    def __init__(
        self, exe: Path, cert: ServiceCertificate, log: Path, sc: str = "2005-02", env: dict[str, str] | None = None
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/echo"
        self.log = log
        self._log_file = log.open("wb")
        self.process = subprocess.Popen(
            ["mono", str(exe), "service", str(self.port), str(cert.pfx_path), PFX_PASSWORD, sc],
            cwd=exe.parent,  # where Mono writes a crash report (mono_crash.*.json): the build directory
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log_file,
            env=dict(os.environ, **env) if env else None,
        )
        assert self.process.stdout is not None
        ready = threading.Event()
        first: list[bytes] = []

        def wait_ready() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                first.append(line)
                if line.strip() == b"READY":
                    ready.set()
                    break

        threading.Thread(target=wait_ready, daemon=True).start()
        if not ready.wait(120) or self.process.poll() is not None:
            self.close()
            output = b"".join(first)
            raise MonoError(f"the Mono service did not start: {output!r}; log:\n{log.read_text(errors='replace')}")

    def echoed(self) -> list[str]:
        """The text of every request the service's Echo operation ran for (it logs ``ECHO <payload>``)."""
        texts = []
        for line in self.log.read_text(errors="replace").splitlines():
            if line.startswith("ECHO "):
                texts.append("".join(etree.fromstring(line[5:].encode()).itertext()))
        return texts

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                if self.process.stdin is not None:
                    self.process.stdin.close()
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log_file.close()


# -- the wssc side -------------------------------------------------------------------------------------------
@dataclass
class Exchange:
    path: str
    request: bytes
    response: bytes = b""
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)


class Recorder:
    """ASGI middleware: routes by path and records every exchange."""

    def __init__(self, apps: dict[str, Any]) -> None:
        self.apps = apps
        self.exchanges: list[Exchange] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        app = self.apps.get(scope.get("path", ""))
        if app is None:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        exchange = Exchange(
            scope["path"],
            b"".join(chunks),
            headers={k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])},
        )
        self.exchanges.append(exchange)
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if replayed:
                return {"type": "http.disconnect"}
            replayed = True
            return {"type": "http.request", "body": exchange.request, "more_body": False}

        async def record(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                exchange.status = message["status"]
            elif message["type"] == "http.response.body":
                exchange.response += message.get("body", b"")
            await send(message)

        await app(scope, replay, record)


class WsscServer:
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.port = free_port()
        config = uvicorn.Config(recorder, host="127.0.0.1", port=self.port, log_level="error", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise MonoError("the wssc service did not start")
            time.sleep(0.02)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def wssc_service(cert: ServiceCertificate, policy: ProtectionPolicy | None = None) -> SecureConversationService:
    """A wssc service accepting bootstrap-protected application messages (no secure conversation)."""
    settings = ServiceSettings(accept_bootstrap_messages=True, version=SC_2005_02, policy=policy or ProtectionPolicy())
    return SecureConversationService(ServiceCredentials(cert.certificate, cert.private_key), settings=settings)


# -- message surgery -----------------------------------------------------------------------------------------
def body_cipher_value(envelope: etree._Element) -> etree._Element:
    body = envelope.find("{*}Body")
    assert body is not None
    cipher = body.find(f"{{{XENC}}}EncryptedData/{{{XENC}}}CipherData/{{{XENC}}}CipherValue")
    assert cipher is not None, "the Body is not encrypted"
    return cipher


def tamper_body(data: bytes, how: str) -> bytes:
    """Alter the Body's ciphertext: ``iv-bitflip`` flips one bit of the CBC IV, which flips the same bit of
    the first plaintext block (``xmlns="urn`` becomes ``xmlns="uro``: still well-formed XML, so only the
    signature can notice); ``ciphertext-byte`` garbles a byte of the first ciphertext block."""
    root = etree.fromstring(data)
    cipher = body_cipher_value(root)
    raw = bytearray(base64.b64decode(cipher.text or ""))
    if how == "iv-bitflip":
        raw[15] ^= 0x01
    elif how == "ciphertext-byte":
        raw[16 + 5] ^= 0xFF
    else:
        raise ValueError(how)
    cipher.text = base64.b64encode(bytes(raw)).decode()
    return etree.tostring(root)


def is_soap_fault(data: bytes) -> bool:
    try:
        root = etree.fromstring(data)
    except etree.XMLSyntaxError:
        return False
    body = root.find("{*}Body")
    return body is not None and len(body) == 1 and etree.QName(body[0]).localname == "Fault"
