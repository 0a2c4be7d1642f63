"""A throwaway MIT Kerberos realm on loopback, for the SPNEGO tests (NEGOTIATION.md section 11 item 3).

:func:`running_kdc` creates a realm ``WSSC.TEST`` in its own folder (``kdb5_util create``), adds a user and two
services with ``kadmin.local``, starts ``krb5kdc -n`` (foreground, UDP and TCP on one free loopback port), obtains
a credential cache for the user (``kinit``) and points this process at the realm through the environment
(``KRB5_CONFIG``, ``KRB5_KDC_PROFILE``, ``KRB5_KTNAME``, ``KRB5CCNAME``), restoring it on exit, when the KDC is
stopped.  The session fixture ``kdc`` (tests/conftest.py) yields the :class:`KdcRealm`; any test module may ask for it.

About the environment and python-gssapi: MIT krb5 reads ``KRB5_CONFIG``, ``KRB5CCNAME`` and ``KRB5_KTNAME`` each
time it creates a library context, and python-gssapi (like pyspnego's use of the ``krb5`` package) creates one
per call, so setting ``os.environ`` before the first Kerberos operation suffices, even after ``import gssapi``;
only a context kept open from before (none here) would keep the old profile.  A subprocess gets the realm through
:attr:`KdcRealm.env` (:meth:`KdcRealm.run` passes it).

Debian packages ``krb5-kdc``, ``krb5-admin-server`` and ``krb5-user`` (and ``libkrb5-dev`` to build the Python
``gssapi``/``krb5`` wheels) come from ``scripts/test-deps``.  Without the binaries or the Python bindings the tests
skip, except under CI where they fail (the same rule as ``redis_support``).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from wssc.trust.negotiation.spnego_env import scoped_environment

REALM = "WSSC.TEST"
USER = "alice"
PASSWORD = "alice-Pa55word"  # a test realm's throwaway password
OTHER_USER = "bob"
OTHER_PASSWORD = "bob-Pa55word"
#: A service running as a user account (a WCF Upn identity, section 6.2): its password key is in the keytab too.
SERVICE_ACCOUNT = "wsscsvc"
SERVICE_ACCOUNT_PASSWORD = "wsscsvc-Pa55word"
MASTER_PASSWORD = "wssc-test-master"
#: Services with random keys exported to the keytab: WCF's default SPN form (``host/<dns>``, section 6.2) and HTTP.
SERVICES = ("HTTP/localhost", "host/localhost")
START_TIMEOUT = 10.0
_SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin")


@dataclass(frozen=True)
class KdcRealm:
    """What a test needs to use the running realm."""

    realm: str
    port: int
    workdir: Path
    krb5_conf: Path
    keytab: Path
    ccache: Path
    user: str  # alice@WSSC.TEST, with a ticket in ``ccache``
    password: str
    other_user: str  # bob@WSSC.TEST, no ticket
    other_password: str
    services: tuple[str, ...]  # full principal names of the services in ``keytab``
    service_account: str  # wsscsvc@WSSC.TEST, a user principal whose key is in ``keytab`` (a UPN target)
    env: Mapping[str, str] = field(repr=False)
    tools: Mapping[str, str] = field(repr=False)

    def principal(self, name: str) -> str:
        """``name`` in this realm (``HTTP/localhost`` -> ``HTTP/localhost@WSSC.TEST``)."""
        return name if "@" in name else f"{name}@{self.realm}"

    def run(self, *args: str, input_text: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a command (``kinit``, ``klist``, ``kadmin.local`` ...: a bare tool name is resolved) in the realm."""
        command = [self.tools.get(args[0], args[0]), *args[1:]]
        return subprocess.run(
            command,
            input=input_text,
            capture_output=True,
            text=True,
            env={**os.environ, **self.env},
            check=check,
            timeout=30,
        )

    def kadmin(self, query: str) -> None:
        """One ``kadmin.local -q`` query (add a principal, export a key ...)."""
        self.run("kadmin.local", "-r", self.realm, "-q", query)


def _tool(name: str) -> str | None:
    return shutil.which(name) or next(
        (str(Path(d) / name) for d in _SBIN if (Path(d) / name).is_file() and os.access(Path(d) / name, os.X_OK)),
        None,
    )


def _unavailable(message: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _free_port() -> int:
    """A loopback port free for both TCP and UDP (the KDC listens on both)."""
    for _ in range(50):
        with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            try:
                udp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free loopback port for the KDC")


def _write_config(workdir: Path, port: int) -> tuple[Path, Path]:
    krb5_conf = workdir / "krb5.conf"
    krb5_conf.write_text(
        f"""[libdefaults]
    default_realm = {REALM}
    dns_lookup_kdc = false
    dns_lookup_realm = false
    dns_canonicalize_hostname = false
    rdns = false
    ignore_acceptor_hostname = false
    forwardable = true
    allow_rc4 = true
    permitted_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96 arcfour-hmac
    default_tkt_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96 arcfour-hmac
    default_tgs_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96 arcfour-hmac

[realms]
    {REALM} = {{
        kdc = 127.0.0.1:{port}
        admin_server = 127.0.0.1:{port}
    }}

[domain_realm]
    localhost = {REALM}
    .localhost = {REALM}
""",
        encoding="utf-8",
    )
    kdc_conf = workdir / "kdc.conf"
    kdc_conf.write_text(
        f"""[kdcdefaults]
    kdc_listen = 127.0.0.1:{port}
    kdc_tcp_listen = 127.0.0.1:{port}

[realms]
    {REALM} = {{
        database_name = {workdir}/principal
        key_stash_file = {workdir}/stash
        acl_file = {workdir}/kadm5.acl
        kdc_listen = 127.0.0.1:{port}
        kdc_tcp_listen = 127.0.0.1:{port}
        max_life = 1h
        max_renewable_life = 1h
        master_key_type = aes256-cts-hmac-sha1-96
        supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
    }}

[logging]
    kdc = FILE:{workdir}/kdc.log
    admin_server = FILE:{workdir}/kadmin.log
    default = FILE:{workdir}/krb5.log
""",
        encoding="utf-8",
    )
    (workdir / "kadm5.acl").write_text("", encoding="utf-8")
    return krb5_conf, kdc_conf


def _wait_for(proc: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"krb5kdc exited with status {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError("krb5kdc did not start listening") from None
            time.sleep(0.02)


@contextmanager
def running_kdc(workdir: Path) -> Iterator[KdcRealm]:
    """Create the realm in ``workdir``, start its KDC, set this process's Kerberos environment; undo all on exit."""
    tools = {name: _tool(name) for name in ("krb5kdc", "kdb5_util", "kadmin.local", "kinit", "klist")}
    missing = sorted(name for name, path in tools.items() if path is None)
    if missing:
        _unavailable(f"MIT Kerberos tools not installed ({', '.join(missing)}; scripts/test-deps installs them)")
    try:
        import gssapi  # noqa: F401
        import krb5  # noqa: F401
    except ImportError as error:
        _unavailable(f"python gssapi/krb5 not installed (pip install 'wssc[kerberos]'): {error}")
    port = _free_port()
    krb5_conf, kdc_conf = _write_config(workdir, port)
    keytab, ccache = workdir / "service.keytab", workdir / "alice.ccache"
    env = {
        "KRB5_CONFIG": str(krb5_conf),
        "KRB5_KDC_PROFILE": str(kdc_conf),
        "KRB5_KTNAME": f"FILE:{keytab}",
        "KRB5CCNAME": f"FILE:{ccache}",
    }
    realm = KdcRealm(
        realm=REALM,
        port=port,
        workdir=workdir,
        krb5_conf=krb5_conf,
        keytab=keytab,
        ccache=ccache,
        user=f"{USER}@{REALM}",
        password=PASSWORD,
        other_user=f"{OTHER_USER}@{REALM}",
        other_password=OTHER_PASSWORD,
        services=tuple(f"{name}@{REALM}" for name in SERVICES),
        service_account=f"{SERVICE_ACCOUNT}@{REALM}",
        env=env,
        tools={name: path for name, path in tools.items() if path is not None},
    )
    realm.run("kdb5_util", "create", "-s", "-r", REALM, "-P", MASTER_PASSWORD)
    realm.kadmin(f"addprinc -pw {PASSWORD} {USER}")
    realm.kadmin(f"addprinc -pw {OTHER_PASSWORD} {OTHER_USER}")
    for service in SERVICES:
        realm.kadmin(f"addprinc -randkey {service}")
    realm.kadmin(f"addprinc -pw {SERVICE_ACCOUNT_PASSWORD} {SERVICE_ACCOUNT}")
    realm.kadmin(f"ktadd -k {keytab} {' '.join(SERVICES)}")
    realm.kadmin(f"ktadd -k {keytab} -norandkey {SERVICE_ACCOUNT}")
    log = (workdir / "krb5kdc.out").open("wb")
    proc = subprocess.Popen(
        [realm.tools["krb5kdc"], "-n", "-r", REALM],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **env},
    )
    try:
        _wait_for(proc, port)
        realm.run("kinit", "-c", env["KRB5CCNAME"], realm.user, input_text=PASSWORD + "\n")
        with scoped_environment(env):
            yield realm
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()
