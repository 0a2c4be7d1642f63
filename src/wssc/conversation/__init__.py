"""Layer 5: the life of security contexts (WS-SC 1.3 sections 3-8): contexts, stores, sessions, token service."""
