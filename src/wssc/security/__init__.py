"""Layer 3: protecting and unprotecting SOAP envelopes (WS-Security 1.0/1.1 symmetric binding)."""
