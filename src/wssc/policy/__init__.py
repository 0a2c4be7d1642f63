"""Layer 5: WS-Policy and WS-SecurityPolicy, the description of messages (it runs no conversation).

What lives here:

- :mod:`~wssc.policy.ws_policy`: WS-Policy normalisation (WS-Policy 1.5 section 4, and the 2004/09 submission);
- :mod:`~wssc.policy.kinds`: the kinds of assertions (bindings, tokens, roles, supporting categories) and the
  negotiation mechanisms;
- :mod:`~wssc.policy.security_policy`: the WS-SecurityPolicy model, one :class:`SecurityPolicy` per normal-form
  alternative (WS-SP 1.2 sections 5-10), and how its context is negotiated (:class:`NegotiationPolicy`,
  NEGOTIATION.md sections 4-5);
- :mod:`~wssc.policy.parts`: SignedParts and EncryptedParts (WS-SP 1.2 sections 4.1.1, 4.2.1);
- :mod:`~wssc.policy.reader`: reading the assertions of an alternative into the model;
- :mod:`~wssc.policy.wsdl`: the policies a WSDL 1.1 document attaches (WS-PolicyAttachment 1.5 section 3.1) and
  its ports' endpoint identities;
- :mod:`~wssc.policy.writer`: writing a secure-conversation or negotiated endpoint policy and attaching it to a
  WSDL.

What it may import: the primitives, tokens, security and trust layers (WS-Trust's entropy modes are what
``sp:Trust10``/``sp:Trust13`` require, WS-SP 1.2 section 10.1) and the top-level ``errors``, ``limits``,
``namespaces`` and ``versions``; never the conversation layer or the adapters above it.  What turns a policy
into a configured client (:mod:`wssc.conversation.policy_client`) and which policy a running service publishes,
from its settings and credentials (:mod:`wssc.conversation.policy_writer`), live in the conversation layer and
import this package.
"""
