"""Layer 3: protecting and verifying SOAP messages (WS-Security 1.1 with the WS-SecurityPolicy 1.2 bindings).

What lives here: ``protect`` (the sender) and ``unprotect`` (the ``Receiver``, which binds each message to one
authenticating token, see ``docs/security.md``) with the header walk (``header``) and the keys a header's tokens
carry (``token_keys``); XML Signature (``dsig``) and Encryption (``xmlenc``); what a sender applies and a receiver
demands (``policy``); keys and resolvers (``keys``); ``timestamp``, ``replay``, ``faults``, ``soap``, ``addressing``
and the verified view (``result``).

What it may import: primitives, tokens and the top-level ``errors``, ``limits``, ``namespaces`` and ``versions``.
"""
