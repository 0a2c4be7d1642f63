"""wssc: WS-SecureConversation (Feb 2005 and OASIS 1.3/1.4) for Python.

Layers, each importing only those below it:

1. :mod:`wssc.primitives` - P_SHA1, ciphers, key transport, hardened XML parsing and c14n;
2. :mod:`wssc.tokens` - SecurityContextToken, DerivedKeyToken, SecurityTokenReference, EncryptedKey, X.509;
3. :mod:`wssc.security` - protecting and unprotecting SOAP envelopes under a policy;
4. trust (RST/RSTR, negotiation) and 5. conversation (context life, sessions, token service, stores);
6. :mod:`wssc.adapters` - command line and I/O.
"""

from wssc.errors import WsscError
from wssc.security.keys import ContextProtection, EncryptedKeyProtection, StaticKeys
from wssc.security.policy import ProtectionOrder, ProtectionPolicy, Requirements
from wssc.security.protect import ProtectedMessage, protect
from wssc.security.result import ContextRef, VerifiedMessage
from wssc.security.unprotect import Receiver, unprotect
from wssc.tokens.dkt import DerivedKeyToken
from wssc.tokens.sct import SecurityContextToken, new_identifier
from wssc.versions import SC_1_3, SC_2005_02, SCVersion

__all__ = [
    "SC_1_3",
    "SC_2005_02",
    "ContextProtection",
    "ContextRef",
    "DerivedKeyToken",
    "EncryptedKeyProtection",
    "ProtectedMessage",
    "ProtectionOrder",
    "ProtectionPolicy",
    "Receiver",
    "Requirements",
    "SCVersion",
    "SecurityContextToken",
    "StaticKeys",
    "VerifiedMessage",
    "WsscError",
    "new_identifier",
    "protect",
    "unprotect",
]
