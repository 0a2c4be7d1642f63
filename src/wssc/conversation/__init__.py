"""Layer 6: the life of security contexts (WS-SC 1.3 sections 3-8): contexts, stores, sessions, token service.

What lives here: the context and its stores (``context``, ``store``, ``resolver``, ``sealing``, ``stateless``),
the bootstrap bindings (``bootstrap``), the service and its settings (``service``, ``token_service``,
``settings``, ``events``), the client session (``client``, ``client_events``, ``client_tokens``), and where a
policy meets a running party: ``policy_client`` (a client configured from a published policy) and
``policy_writer`` (the policy a service publishes, from its settings and credentials).

What it may import: every layer below it (primitives, tokens, security, trust, policy) and the top-level
``errors``, ``limits``, ``namespaces`` and ``versions``; never the adapters.
"""
