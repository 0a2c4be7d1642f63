"""How a service runs its security contexts: protocol version, entropy, key size, lifetimes, protection."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from wssc.conversation.context import CONTEXT_LIFETIME, KEY_ROLLOVER_WINDOW
from wssc.conversation.sealing import ContextSeal
from wssc.security.policy import ProtectionPolicy, Requirements
from wssc.trust.entropy import EntropyMode
from wssc.versions import SC_1_3, SCVersion


@dataclass(frozen=True)
class ServiceSettings:
    version: SCVersion = SC_1_3
    entropy_mode: EntropyMode = EntropyMode.COMBINED
    key_size: int = 256
    context_lifetime: timedelta = CONTEXT_LIFETIME
    rollover: timedelta = KEY_ROLLOVER_WINDOW
    #: protection of responses (RSTRs and application replies)
    policy: ProtectionPolicy = field(default_factory=ProtectionPolicy)
    #: accept application messages protected by the bootstrap binding alone (WCF establishSecurityContext=false)
    accept_bootstrap_messages: bool = False
    #: what every request must show (bootstrap and context messages alike)
    requirements: Requirements = field(default_factory=lambda: Requirements(encrypted_body=True))
    #: issue stateless contexts: each SCT carries its context as a cookie sealed with this key, which
    #: every node of the service holds; nothing is stored (see :mod:`wssc.conversation.stateless`)
    stateless: ContextSeal | None = None
    #: SOAP headers (Clark names) the application understands: any other header marked mustUnderstand for
    #: this service is refused with SOAP's MustUnderstand fault (WS-Addressing and WS-Security are understood)
    understood_headers: tuple[str, ...] = ()
