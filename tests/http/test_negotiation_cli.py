"""``wssc serve --bootstrap spnego|tlsnego`` and ``wssc call --negotiate spnego|tlsnego`` against each other over
HTTP: every credential type, both WS-SC versions, both ``establishSecurityContext`` modes (issue 9)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID

from http_support import ServeProcess
from negotiation_support import wssc
from pki import CLIENT, ROOT, STRANGER, issue, key_pem, pem

SERVICE = issue("service.example", ROOT, usages=[ExtendedKeyUsageOID.SERVER_AUTH], dns_names=["service.example"])
USERS = "alice:correct horse\n"
NTLM_USERS = "WSSC:bob:ntlm-secret\n"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("negotiation-cli")
    paths = {}
    for name, data in {
        "ca.pem": pem(ROOT[0]),
        "service.pem": pem(SERVICE[0]),
        "service-key.pem": key_pem(SERVICE[1]),
        "client.pem": pem(CLIENT[0]),
        "client-key.pem": key_pem(CLIENT[1]),
        "stranger.pem": pem(STRANGER[0]),
        "stranger-key.pem": key_pem(STRANGER[1]),
        "users": USERS.encode(),
        "ntlm-users": NTLM_USERS.encode(),
    }.items():
        (folder / name).write_bytes(data)
        paths[name] = str(folder / name)
    paths["dir"] = str(folder)
    return paths


def _serve(files: dict[str, str], name: str, *args: str) -> Iterator[ServeProcess]:
    workdir = Path(files["dir"]) / name
    workdir.mkdir()
    server = ServeProcess(workdir, "--cert", files["service.pem"], "--key", files["service-key.pem"], *args)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def tlsnego_server(files: dict[str, str]) -> Iterator[ServeProcess]:
    yield from _serve(files, "tlsnego", "--bootstrap", "tlsnego")


@pytest.fixture(scope="module")
def username_server(files: dict[str, str]) -> Iterator[ServeProcess]:
    yield from _serve(files, "username", "--bootstrap", "tlsnego", "--users", files["users"], "--sc-version", "2005-02")


@pytest.fixture(scope="module")
def mutual_server(files: dict[str, str]) -> Iterator[ServeProcess]:
    yield from _serve(
        files, "mutual", "--bootstrap", "tlsnego", "--require-client-cert", "--trust-anchor", files["ca.pem"]
    )


@pytest.fixture(scope="module")
def ntlm_server(files: dict[str, str]) -> Iterator[ServeProcess]:
    yield from _serve(files, "ntlm", "--bootstrap", "spnego", "--ntlm-users", files["ntlm-users"])


MODES = [pytest.param((), id="establish"), pytest.param(("--no-security-context",), id="no-sc")]
VERSIONS = [pytest.param("1.3", id="1.3"), pytest.param("2005-02", id="2005-02")]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("version", VERSIONS)
def test_anonymous_ssl_negotiated(tlsnego_server, files, version, mode) -> None:
    done = wssc(
        "call",
        tlsnego_server.url,
        "--negotiate",
        "tlsnego",
        "--ca",
        files["ca.pem"],
        "--sc-version",
        version,
        "--count",
        "2",
        *mode,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("hello from wssc") == 2


def test_pinned_service_certificate(tlsnego_server, files) -> None:
    """Through the installed console script, as a user runs it."""
    common = ("call", tlsnego_server.url, "--negotiate", "tlsnego", "--server-cert")
    done = wssc(*common, files["service.pem"], subprocess_=True)
    assert done.returncode == 0, done.stderr
    wrong = wssc(*common, files["client.pem"], subprocess_=True)
    assert wrong.returncode != 0 and "Traceback" not in wrong.stderr


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("version", VERSIONS)
def test_username_for_ssl_negotiated(username_server, files, version, mode) -> None:
    common = ("call", username_server.url, "--negotiate", "tlsnego", "--ca", files["ca.pem"], "--sc-version", version)
    done = wssc(*common, "--username", "alice", "--password", "correct horse", *mode)
    assert done.returncode == 0, done.stderr
    bad = wssc(*common, "--username", "alice", "--password", "wrong", *mode)
    assert bad.returncode != 0 and "FailedAuthentication" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("version", VERSIONS)
def test_mutual_ssl_negotiated(mutual_server, files, version, mode) -> None:
    common = ("call", mutual_server.url, "--negotiate", "tlsnego", "--ca", files["ca.pem"], "--sc-version", version)
    done = wssc(*common, "--client-cert", files["client.pem"], "--client-key", files["client-key.pem"], *mode)
    assert done.returncode == 0, done.stderr
    stranger = wssc(*common, "--client-cert", files["stranger.pem"], "--client-key", files["stranger-key.pem"])
    assert stranger.returncode != 0 and "FailedAuthentication" in stranger.stderr
    anonymous = wssc(*common)
    assert anonymous.returncode != 0 and "FailedAuthentication" in anonymous.stderr


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("version", VERSIONS)
def test_ntlm(ntlm_server, version, mode) -> None:
    common = ("call", ntlm_server.url, "--negotiate", "spnego", "--protocol", "ntlm", "--sc-version", version)
    done = wssc(*common, "--username", "WSSC\\bob", "--password", "ntlm-secret", *mode)
    assert done.returncode == 0, done.stderr
    bad = wssc(*common, "--username", "WSSC\\bob", "--password", "wrong", *mode)
    assert bad.returncode != 0 and "FailedAuthentication" in bad.stderr and "Traceback" not in bad.stderr
