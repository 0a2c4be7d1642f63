"""Layer 4: WS-Trust messages for security contexts, sans I/O.

What lives here: RST, RSTR and RSTRC (``rst``, ``rstr``, ``elements``), entropy and proof keys (``entropy``),
the actions of each operation (``actions``), and :mod:`wssc.trust.negotiation`, the negotiation of a context
over ``wst:BinaryExchange`` (SPNEGO, TLSNEGO) behind one mechanism interface.

What it may import: primitives, tokens, security and the top-level ``errors``, ``limits``, ``namespaces`` and
``versions``; never policy, conversation or adapters.
"""
