"""Layer 7: adapters, the I/O around the sans-I/O layers below.

What lives here: the ASGI/WSGI app (``asgi``), its application faults (``app_fault``) and bounded worker pool
(``throttle``), the httpx client (``http_client``), the zeep transport (``zeep_transport``) with what it takes
from zeep's wsse (``zeep_wsse``) and transport settings (``zeep_settings``), the Redis context store and replay cache
(``redis_store``), the key log (``keylog``), the message trace (``trace``) and the log lines of each exchange
(``observe``), and the ``wssc`` command line in :mod:`wssc.adapters.cli`.

What it may import: every layer below (primitives, tokens, security, trust, policy, conversation); an adapter
may import another adapter (the command line runs the HTTP app and client).
"""
