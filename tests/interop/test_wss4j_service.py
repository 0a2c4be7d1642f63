"""An independent implementation (WSS4J) protects messages with a context that wssc established over HTTP:
the running `wssc serve` accepts them, and rejects them with wsc:BadContextToken after `wssc cancel`."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from lxml import etree
from wss4j import WSS4J

from http_support import ServeProcess
from wssc.security.faults import read_fault
from wssc.security.keys import StaticKeys
from wssc.security.policy import Requirements
from wssc.security.unprotect import Receiver

SOAP11_ENVELOPE = (
    b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header/>'
    b'<soap:Body><ns:echo xmlns:ns="urn:example">from wss4j</ns:echo></soap:Body></soap:Envelope>'
)


def _wssc(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wssc", *args], check=False, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("sc_version", ["1.3", "2005-02"])
@pytest.mark.parametrize("sct_ref", ["local", "external"])
def test_wss4j_message_under_http_established_context(
    wss4j: WSS4J, tmp_path: Path, sc_version: str, sct_ref: str
) -> None:
    server = ServeProcess(tmp_path, "--sc-version", sc_version)
    try:
        cert = str(server.cert_path)
        kept = _wssc("call", server.url, "--server-cert", cert, "--sc-version", sc_version, "--no-cancel")
        assert kept.returncode == 0, kept.stderr
        identifier = kept.stdout.strip().splitlines()[-1]
        key_b64 = {ident: key for ident, _inst, key in server.logged_keys()}[identifier]
        key = base64.b64decode(key_b64)

        def send() -> httpx.Response:
            message = wss4j.protect(
                SOAP11_ENVELOPE,
                key=key,
                context_id=identifier,
                sc_version=sc_version,  # type: ignore[arg-type]
                sct_ref=sct_ref,
                mode="both",
            )  # type: ignore[arg-type]
            return httpx.post(
                server.url,
                content=message,
                headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"urn:example:echo"'},
            )

        accepted = send()
        assert accepted.status_code == 200, accepted.text
        reply = Receiver(StaticKeys({identifier: key}), Requirements(encrypted_body=True)).unprotect(accepted.content)
        assert "".join(reply.body.itertext()) == "from wss4j"
        # WSS4J, too, accepts wssc's answer under the same context.
        assert wss4j.unprotect(accepted.content, key=key, context_id=identifier, sc_version=sc_version)["ok"]  # type: ignore[arg-type]

        cancelled = _wssc(
            "cancel",
            server.url,
            "--context-id",
            identifier,
            "--key-b64",
            key_b64,
            "--server-cert",
            cert,
            "--sc-version",
            sc_version,
        )
        assert cancelled.returncode == 0, cancelled.stderr
        rejected = send()
        assert rejected.status_code == 500
        fault = read_fault(etree.fromstring(rejected.content))
        assert fault is not None and fault.code.endswith("}BadContextToken"), fault
    finally:
        server.stop()
