"""Layer 4: WS-Trust messages for security contexts (RST/RSTR/RSTRC, entropy and proof keys, actions); sans-IO."""
