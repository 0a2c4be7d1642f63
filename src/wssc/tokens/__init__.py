"""Layer 2: security tokens and their XML forms.

What lives here: the SecurityContextToken (``sct``, WS-SC 1.3 section 3), the DerivedKeyToken (``dkt``,
section 7), the SecurityTokenReference (``reference``, WSS 1.1 section 7), EncryptedKey (``encrypted_key``),
X.509 tokens and the trust in client certificates (``x509``, ``x509_trust``), the UsernameToken (``username``).

What it may import: primitives and the top-level ``errors``, ``limits``, ``namespaces`` and ``versions``.
"""
