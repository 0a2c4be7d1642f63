"""Layer 2: security tokens (SCT, DKT, STR, EncryptedKey, X.509) and their XML forms."""
