"""``wssc serve`` checks its configuration before it listens: each mistake is one or two lines naming the file,
URL or option at fault, exit status 1 (2 for usage), no traceback.  A configuration that passes every check
reaches the port check, so a port held here stops it right there, proving the files were accepted."""

from __future__ import annotations

import base64
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12

from http_support import free_port
from negotiation_support import Ran, wssc
from pki import key_pem, pem
from wssc.tokens.x509 import self_signed

SERVICE = self_signed("serve checks service")
OTHER = self_signed("serve checks other")
SEAL = {"WSSC_SEAL_KEY": base64.b64encode(os.urandom(32)).decode()}
DER = serialization.Encoding.DER


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The development certificate, where a test needs one, lands in the test's directory."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WSSC_KEY_PASSWORD", raising=False)
    monkeypatch.delenv("WSSC_SEAL_KEY", raising=False)


@pytest.fixture
def held_port() -> Iterator[int]:
    """A port some other program listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def _files(tmp_path: Path, **contents: bytes) -> dict[str, str]:
    paths = {}
    for name, data in contents.items():
        (tmp_path / name).write_bytes(data)
        paths[name] = str(tmp_path / name)
    return paths


def refused(ran: Ran, status: int, *named: str) -> str:
    """The error is a short message naming ``named``, with ``status``, and no traceback."""
    assert ran.returncode == status, (ran.returncode, ran.stdout, ran.stderr)
    output = ran.stdout + ran.stderr
    assert "Traceback" not in output
    error = output[output.index("Error: ") :]
    assert len(error.strip().splitlines()) <= 2, error
    for text in named:
        assert text in error, (text, error)
    return error


def serve(*args: str, port: int, env: dict[str, str] | None = None) -> Ran:
    return wssc("serve", "--port", str(port), *args, env=env)


def test_a_key_that_is_not_the_certificates_is_refused(tmp_path: Path, held_port: int) -> None:
    f = _files(tmp_path, **{"cert.pem": pem(SERVICE[0]), "key.pem": key_pem(OTHER[1])})
    error = refused(serve("--cert", f["cert.pem"], "--key", f["key.pem"], port=held_port), 1, "do not match")
    assert f["cert.pem"] in error and f["key.pem"] in error and "CN=serve checks service" in error


@pytest.mark.parametrize(
    ("cert", "key", "culprit", "says"),
    [
        (b"not a certificate", None, "cert", "is not a PEM or DER X.509 certificate"),
        ("key", None, "cert", "holds a PEM PRIVATE KEY, not a certificate"),
        (None, b"\x00garbage", "key", "not a PEM or DER private key"),
        (None, "cert", "key", "holds a PEM CERTIFICATE, not a private key"),
    ],
)
def test_files_that_are_not_what_they_should_be(
    tmp_path: Path, held_port: int, cert: bytes | str | None, key: bytes | str | None, culprit: str, says: str
) -> None:
    good = {"cert": pem(SERVICE[0]), "key": key_pem(SERVICE[1])}
    given = {"cert": cert, "key": key}
    data = {name: good[value] if isinstance(value, str) else value or good[name] for name, value in given.items()}
    f = _files(tmp_path, cert=data["cert"], key=data["key"])
    refused(serve("--cert", f["cert"], "--key", f["key"], port=held_port), 1, f"--{culprit} {f[culprit]}", says)


def _encrypted(password: bytes) -> bytes:
    return SERVICE[1].private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password),
    )


def test_an_encrypted_key_needs_its_password(tmp_path: Path, held_port: int) -> None:
    f = _files(tmp_path, **{"cert.pem": pem(SERVICE[0]), "key.pem": _encrypted(b"s3cret")})
    base = ("--cert", f["cert.pem"], "--key", f["key.pem"])
    refused(serve(*base, port=held_port), 1, f"--key {f['key.pem']} is encrypted", "--key-password")
    error = refused(serve(*base, "--key-password", "wrong", port=held_port), 1, "wrong --key-password")
    assert "wrong" not in error.replace("wrong --key-password", "")  # the password is never echoed
    # the right password, as an option or from the environment: the key is accepted, the port check is next
    refused(serve(*base, "--key-password", "s3cret", port=held_port), 1, "already in use")
    refused(serve(*base, port=held_port, env={"WSSC_KEY_PASSWORD": "s3cret"}), 1, "already in use")


def test_pkcs12_der_and_a_needless_password_are_accepted(tmp_path: Path, held_port: int) -> None:
    cert, key = SERVICE
    pfx = pkcs12.serialize_key_and_certificates(
        b"svc", key, cert, None, serialization.BestAvailableEncryption(b"pfx-pass")
    )
    der_key = key.private_bytes(DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    f = _files(tmp_path, **{"svc.pfx": pfx, "cert.der": cert.public_bytes(DER), "key.der": der_key})
    refused(serve("--cert", f["svc.pfx"], "--key-password", "pfx-pass", port=held_port), 1, "already in use")
    refused(serve("--cert", f["svc.pfx"], port=held_port), 1, f"--cert {f['svc.pfx']}", "--key-password")
    refused(serve("--cert", f["svc.pfx"], "--key-password", "nope", port=held_port), 1, "wrong --key-password")
    refused(serve("--cert", f["svc.pfx"], "--key", f["key.der"], port=held_port), 2, "drop --key")
    both = ("--cert", f["cert.der"], "--key", f["key.der"])
    refused(serve(*both, port=held_port), 1, "already in use")
    refused(serve(*both, "--key-password", "unneeded", port=held_port), 1, "already in use")


def test_usage_mistakes_about_the_service_certificate(tmp_path: Path, held_port: int) -> None:
    f = _files(tmp_path, **{"cert.pem": pem(SERVICE[0]), "key.pem": key_pem(SERVICE[1])})
    refused(serve("--key", f["key.pem"], port=held_port), 2, "--key needs --cert")
    refused(serve("--cert", f["cert.pem"], port=held_port), 2, f"--cert {f['cert.pem']} needs --key")
    (tmp_path / "cert.der").write_bytes(SERVICE[0].public_bytes(DER))
    refused(serve("--cert", str(tmp_path / "cert.der"), port=held_port), 2, "cert.der needs --key")


def test_a_key_that_is_not_rsa(tmp_path: Path, held_port: int) -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    data = ec_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    f = _files(tmp_path, **{"cert.pem": pem(SERVICE[0]), "key.pem": data})
    refused(serve("--cert", f["cert.pem"], "--key", f["key.pem"], port=held_port), 1, f["key.pem"], "need RSA")


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"alice:wonderland\nbob-without-password-separator\n", "line 2: expected name:password"),
        (b"\xff\xfe\x00binary", "not a UTF-8 text file"),
        (b"# nobody\n\n", "no name:password line"),
    ],
)
def test_a_bad_users_file(tmp_path: Path, held_port: int, content: bytes, says: str) -> None:
    f = _files(tmp_path, users=content)
    args = ("--bootstrap", "username-for-certificate", "--users", f["users"])
    error = refused(serve(*args, port=held_port), 1, f"--users {f['users']}", says)
    assert "wonderland" not in error and "bob-without" not in error


@pytest.mark.parametrize(
    ("content", "says"),
    [(b"EXAMPLE:alice:pw\nalice-only\n", "line 2: expected DOMAIN:user:password"), (b"\n", "no DOMAIN:user:password")],
)
def test_a_bad_ntlm_users_file(tmp_path: Path, held_port: int, content: bytes, says: str) -> None:
    f = _files(tmp_path, ntlm=content)
    args = ("--bootstrap", "spnego", "--ntlm-users", f["ntlm"])
    refused(serve(*args, port=held_port), 1, f"--ntlm-users {f['ntlm']}", says)


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"not a keytab", "not a Kerberos keytab"),
        (b"\x05\x02", "holds no key"),
        (b"\x05\x02\xff\xff\xff\xf0" + bytes(16), "holds no key"),
    ],
)
def test_a_bad_keytab(tmp_path: Path, held_port: int, content: bytes, says: str) -> None:
    f = _files(tmp_path, keytab=content)
    refused(serve("--bootstrap", "spnego", "--keytab", f["keytab"], port=held_port), 1, f"--keytab {f['keytab']}", says)


KEYTAB = b"\x05\x02" + (8).to_bytes(4, "big") + bytes(8)  # the format's header and one (blank) entry


def test_a_bad_keytab_in_the_environment(tmp_path: Path, held_port: int) -> None:
    f = _files(tmp_path, keytab=b"junk")
    for name in (f["keytab"], "FILE:" + f["keytab"]):
        ran = serve("--bootstrap", "spnego", port=held_port, env={"KRB5_KTNAME": name})
        refused(ran, 1, f"KRB5_KTNAME {f['keytab']}", "not a Kerberos keytab")
    gone = "FILE:" + str(tmp_path / "gone")
    refused(serve("--bootstrap", "spnego", port=held_port, env={"KRB5_KTNAME": gone}), 1, f"KRB5_KTNAME {gone}")


def test_a_malformed_spn_is_a_usage_error(tmp_path: Path, held_port: int) -> None:
    f = _files(tmp_path, keytab=KEYTAB)
    ran = serve("--bootstrap", "spnego", "--keytab", f["keytab"], "--spn", "no-slash", port=held_port)
    refused(ran, 2, "--bootstrap spnego", "service/host")


@pytest.mark.parametrize("option", ["--trust-anchor", "--trust-peer"])
def test_a_trust_file_that_is_not_a_certificate(tmp_path: Path, held_port: int, option: str) -> None:
    f = _files(tmp_path, anchor=key_pem(OTHER[1]))
    refused(serve(option, f["anchor"], port=held_port), 1, f"{option} {f['anchor']}", "not a certificate")


def test_unreachable_redis_is_named(held_port: int) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    refused(serve("--redis", url, port=held_port, env=SEAL), 1, f"cannot reach Redis at {url} (--redis)")
    secret = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    error = refused(serve("--redis", secret, port=held_port, env=SEAL), 1, "redis://:***@127.0.0.1")
    assert "hunter2" not in error
    refused(serve("--redis", "http://127.0.0.1/", port=held_port, env=SEAL), 2, "--redis http://127.0.0.1/")


def test_a_port_in_use_is_named(held_port: int) -> None:
    refused(serve(port=held_port), 1, f"port {held_port} on 127.0.0.1 is already in use", "--port")


@pytest.mark.parametrize("value", ["not base64!", base64.b64encode(b"short").decode()])
def test_a_bad_seal_key(held_port: int, value: str) -> None:
    refused(serve("--stateless", port=held_port, env={"WSSC_SEAL_KEY": value}), 1, "WSSC_SEAL_KEY", "32 bytes")


def test_a_missing_seal_key_is_a_usage_error(held_port: int) -> None:
    refused(serve("--stateless", port=held_port), 2, "need WSSC_SEAL_KEY")


def test_workers_need_a_shared_store(held_port: int) -> None:
    refused(serve("--workers", "2", port=held_port), 2, "--workers 2 needs --redis URL or --stateless", "refuse it")


@pytest.mark.parametrize("bootstrap", ["tlsnego", "spnego"])
def test_workers_refuse_negotiation(held_port: int, bootstrap: str) -> None:
    args = ("--workers", "3", "--stateless", "--bootstrap", bootstrap)
    refused(
        serve(*args, port=held_port, env=SEAL), 2, f"--workers 3 cannot serve --bootstrap {bootstrap}", "negotiation"
    )


def test_a_mismatched_key_through_the_console_script(tmp_path: Path, held_port: int) -> None:
    f = _files(tmp_path, **{"cert.pem": pem(SERVICE[0]), "key.pem": key_pem(OTHER[1])})
    ran = wssc("serve", "--port", str(held_port), "--cert", f["cert.pem"], "--key", f["key.pem"], subprocess_=True)
    refused(ran, 1, "do not match")
