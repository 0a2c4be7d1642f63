"""Layer 1: cryptographic and XML primitives.

What lives here: P_SHA1 and CK/PSHA1 key derivation (``psha1``), XML Encryption's block ciphers and RSA key
transport (``ciphers``), the algorithm suites of WS-SecurityPolicy 1.2 section 6.1 (``algorithms``), the
hardened parser and exclusive c14n (``xml``), xsd:dateTime (``xsdtime``).

What it may import: the top-level ``errors``, ``limits`` and ``namespaces``, lxml and cryptography; no other layer.
"""
