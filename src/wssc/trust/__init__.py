"""Layer 4: WS-Trust messages for security contexts (RST/RSTR/RSTRC, entropy and proof keys, actions); sans-IO.

:mod:`wssc.trust.negotiation` holds negotiation over ``wst:BinaryExchange`` (SPNEGO, TLSNEGO).  May import
primitives, tokens and security; never conversation or adapters.
"""
