"""Layer 1: cryptographic and XML primitives (P_SHA1, ciphers, key transport, safe parsing, c14n)."""
