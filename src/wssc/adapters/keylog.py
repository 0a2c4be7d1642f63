"""The opt-in key log: like SSLKEYLOGFILE for TLS, one line per context key a party learns,

    CONTEXT <Identifier> <Instance or -> <base64 key>

so that captured traffic can be decrypted while debugging interoperability (e.g. with ``wssc unprotect``).
It is off unless the environment variable ``WSSC_KEYLOG`` names a file.  **Risk:** anyone who can read
that file can read and forge every message of the logged contexts; never enable it in production.
"""

from __future__ import annotations

import base64
import os
import threading
from typing import Final

from wssc.conversation.context import SecurityContext

ENVIRONMENT_VARIABLE: Final = "WSSC_KEYLOG"
_lock = threading.Lock()


class KeyLog:
    def __init__(self, path: str) -> None:
        self.path = path

    @classmethod
    def from_environment(cls) -> KeyLog | None:
        path = os.environ.get(ENVIRONMENT_VARIABLE)
        return cls(path) if path else None

    def __call__(self, context: SecurityContext) -> None:
        line = f"CONTEXT {context.identifier} {context.instance or '-'} {base64.b64encode(context.key).decode()}\n"
        with _lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode("ascii"))
            finally:
                os.close(fd)
