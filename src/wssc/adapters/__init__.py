"""Layer 6: adapters (command line, benchmarks; HTTP, ASGI/WSGI and zeep come with the conversation layer)."""
