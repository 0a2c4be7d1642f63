"""The process-wide settings an SPNEGO acceptor's libraries read, scoped to one acceptor's step.

pyspnego's NTLM acceptor finds its users only through the environment variable ``NTLM_USER_FILE``: it checks the
file exists when the NTLM context is created (inside the acceptor's first step, when pyspnego's SPNEGO layer
builds its mechanisms) and reads it again when the AUTHENTICATE message arrives (``spnego/_ntlm.py``
``_get_credential_file``, pyspnego 0.12).  MIT and Heimdal Kerberos find the acceptor's keys through
``KRB5_KTNAME`` when the acceptor credential is acquired (also inside the first step).  Neither library takes
the value as an argument.  So that several acceptors with different keytabs or user files can live in one
process, :meth:`AcceptorEnvironment.applied` sets both variables for the duration of one step and restores
them afterwards, under one process-wide lock.

The limitation, by design of those libraries: SPNEGO acceptor steps are serialised across the process (each is
a few hundred microseconds of local cryptography), and while one runs, other code in the process that reads
``NTLM_USER_FILE`` or ``KRB5_KTNAME`` without :data:`ENVIRONMENT_LOCK` sees this acceptor's values (wssc's own
initiator takes the lock when its NTLM credential comes from that file).  Users given as a mapping never touch disk
on Linux (an anonymous ``memfd``); elsewhere they live in a private temporary file (mode 0600) for the step.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Final

NTLM_USER_FILE: Final = "NTLM_USER_FILE"
KRB5_KTNAME: Final = "KRB5_KTNAME"
#: A keytab with no keys: Kerberos acceptor credentials cannot be acquired, so an NTLM-only acceptor offers no
#: Kerberos (MIT checks the keytab has content when acquiring acceptor credentials).
_NO_KEYTAB: Final = "MEMORY:wssc-no-kerberos"
#: pyspnego's NTLM reads ``LM_COMPAT_LEVEL`` (gss-ntlmssp's variable, Windows' LmCompatibilityLevel) when a
#: context is created; level 5 sends NTLMv2 responses only and refuses LM and NTLMv1 (DES-based, [MS-NLMP]
#: section 3.3.1) as an acceptor, where pyspnego's default (3) would still accept them.
NTLMV2_ONLY: Final = {"LM_COMPAT_LEVEL": "5"}
#: Held while an acceptor's variables are set, and by the initiator while pyspnego's NTLM client reads its
#: credential file (``NTLM_USER_FILE``, when no password is given).
ENVIRONMENT_LOCK: Final = threading.Lock()


def _user_lines(users: Mapping[str, str]) -> bytes:
    """pyspnego's Heimdal-style lines ``DOMAIN:user:password`` (``:user@domain:password`` for a UPN)."""
    lines = []
    for name, password in users.items():
        domain, _, user = name.rpartition("\\")
        fields = (domain, user, password)
        if not user or any(":" in f or "\n" in f or "\r" in f for f in fields):
            raise ValueError("NTLM users need a name and no ':' or line break in name or password")
        lines.append(":".join(fields))
    return ("\n".join(lines) + "\n").encode("utf-8")


@contextmanager
def _users_file(content: bytes) -> Iterator[str]:
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("wssc-ntlm-users", os.MFD_CLOEXEC)
        try:
            os.write(fd, content)
            yield f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)
        return
    fd, path = tempfile.mkstemp(prefix="wssc-ntlm-")
    try:
        os.write(fd, content)
        os.close(fd)
        yield path
    finally:
        os.unlink(path)


@contextmanager
def scoped_environment(values: Mapping[str, str]) -> Iterator[None]:
    """``os.environ`` updated with ``values`` until exit, then each of those variables restored (or removed)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class AcceptorEnvironment:
    """One acceptor's keytab and NTLM users, applied to the process environment only while it steps.

    ``keytab`` None keeps ``KRB5_KTNAME`` (or the system keytab) as it is; ``ntlm_users`` None keeps
    ``NTLM_USER_FILE``.  ``kerberos=False`` hides every keytab, ``ntlm=False`` every user file, so pyspnego's
    SPNEGO layer cannot offer the mechanism at all.
    """

    def __init__(
        self,
        *,
        keytab: str | None,
        ntlm_users: str | os.PathLike[str] | Mapping[str, str] | None,
        kerberos: bool = True,
        ntlm: bool = True,
    ) -> None:
        self._keytab = keytab if kerberos else _NO_KEYTAB
        self._users_path: str | None = None
        self._users_content: bytes | None = None
        self._hide_users = not ntlm
        if isinstance(ntlm_users, Mapping):
            self._users_content = _user_lines(ntlm_users)
        elif ntlm_users is not None:
            self._users_path = os.fspath(ntlm_users)
            if not os.path.isfile(self._users_path):
                raise ValueError("NTLM user file does not exist")

    @contextmanager
    def applied(self) -> Iterator[None]:
        """Hold the process-wide lock with this acceptor's variables set; restore them on exit."""
        with ENVIRONMENT_LOCK, self._user_file() as users:
            values = {KRB5_KTNAME: self._keytab, NTLM_USER_FILE: users, **NTLMV2_ONLY}
            with scoped_environment({name: value for name, value in values.items() if value is not None}):
                yield

    @contextmanager
    def _user_file(self) -> Iterator[str | None]:
        """The NTLM_USER_FILE value for one step: empty (no NTLM), this acceptor's file, or None (unchanged)."""
        if self._hide_users:
            yield ""
        elif self._users_content is not None:
            with _users_file(self._users_content) as path:
                yield path
        else:
            yield self._users_path
