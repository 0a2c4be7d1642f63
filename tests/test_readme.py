"""The README's Python blocks for WCF services that negotiate run as written (issue 9): each is run in a fresh
interpreter against a `wssc serve` standing in for the WCF service, its environment naming the WSDL and the
credentials exactly as the README tells a user to."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID

from http_support import ServeProcess
from pki import CLIENT, ROOT, issue, key_pem, pem

README = Path(__file__).resolve().parents[1] / "README.md"
SERVICE = issue("service.example", ROOT, usages=[ExtendedKeyUsageOID.SERVER_AUTH], dns_names=["service.example"])


def negotiation_blocks() -> list[str]:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    return [b for b in blocks if 'os.environ["WCF_WSDL"]' in b]


def run_block(block: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", block],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("readme")
    pfx = pkcs12.serialize_key_and_certificates(
        b"client", CLIENT[1], CLIENT[0], None, serialization.BestAvailableEncryption(b"pfx-secret")
    )
    written = {}
    for name, data in {
        "ca.pem": pem(ROOT[0]),
        "service.pem": pem(SERVICE[0]),
        "service-key.pem": key_pem(SERVICE[1]),
        "client.pfx": pfx,
        "users": b"alice:wonderland\n",
        "ntlm-users": b"CONTOSO:alice:wonderland\n",
    }.items():
        (folder / name).write_bytes(data)
        written[name] = str(folder / name)
    written["dir"] = str(folder)
    return written


def _serve(files: dict[str, str], name: str, *args: str, env: dict[str, str] | None = None) -> Iterator[ServeProcess]:
    workdir = Path(files["dir"]) / name
    workdir.mkdir()
    tls = ("--cert", files["service.pem"], "--key", files["service-key.pem"])
    server = ServeProcess(workdir, *tls, *args, env=env)
    try:
        yield server
    finally:
        server.stop()


def test_three_negotiation_examples() -> None:
    assert len(negotiation_blocks()) == 3  # Windows, UserName, Certificate


def test_windows_example_with_kerberos_login_and_ntlm_account(files: dict[str, str], kdc: Any) -> None:
    windows = negotiation_blocks()[0]
    kerberos = ("--bootstrap", "spnego", "--keytab", str(kdc.keytab), "--spn", "HTTP/localhost")
    for server in _serve(files, "kerberos", *kerberos, env=dict(kdc.env)):
        done = run_block(windows, {**kdc.env, "WCF_WSDL": server.url + "?wsdl"})
        assert done.returncode == 0 and "hello" in done.stdout, done.stderr
    for server in _serve(files, "ntlm", "--bootstrap", "spnego", "--ntlm-users", files["ntlm-users"]):
        account = {"WCF_USER": "CONTOSO\\alice", "WCF_PASSWORD": "wonderland"}
        done = run_block(windows, {"WCF_WSDL": server.url + "?wsdl", **account})
        assert done.returncode == 0 and "hello" in done.stdout, done.stderr


def test_username_example(files: dict[str, str]) -> None:
    for server in _serve(files, "username", "--bootstrap", "tlsnego", "--users", files["users"]):
        env = {"WCF_WSDL": server.url + "?wsdl", "WCF_USER": "alice", "WCF_PASSWORD": "wonderland"}
        done = run_block(negotiation_blocks()[1], {**env, "WCF_CA_BUNDLE": files["ca.pem"]})
        assert done.returncode == 0 and "hello" in done.stdout, done.stderr


def test_certificate_example(files: dict[str, str]) -> None:
    mutual = ("--bootstrap", "tlsnego", "--require-client-cert", "--trust-anchor", files["ca.pem"])
    for server in _serve(files, "certificate", *mutual):
        env = {"WCF_WSDL": server.url + "?wsdl", "WCF_PFX": files["client.pfx"], "WCF_PFX_PASSWORD": "pfx-secret"}
        done = run_block(negotiation_blocks()[2], {**env, "WCF_CA_BUNDLE": files["ca.pem"]})
        assert done.returncode == 0 and "hello" in done.stdout, done.stderr
