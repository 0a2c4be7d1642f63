"""SPNEGO target names: WCF's rule from the endpoint identity, and a Kerberos initiator that takes any name.

NEGOTIATION.md section 6.2: WCF names the target from the endpoint identity (``SecurityUtils.cs:727-754``).
pyspnego builds only GSS host-based names (``service@host``), which cannot say ``HTTP/host@REALM`` (a realm) or
a UPN (a service running as a user account), so :class:`NamedKerberos` gives pyspnego's Kerberos initiator a
security context of its own making; pyspnego internals it relies on (checked on 0.12): ``GSSAPIProxy``'s
``_context``, ``_credential``, ``_mech`` and ``_context_req``.
"""

from __future__ import annotations

from typing import Any

from spnego._gss import GSSAPIProxy


def target_name(
    spn: str | None = None, upn: str | None = None, dns: str | None = None, url_host: str | None = None
) -> str:
    """WCF's SPNEGO target from the endpoint identity (NEGOTIATION.md section 6.2, ``SecurityUtils.cs:727-754``).

    An Spn identity is the target as is, a Upn identity is the target (a Kerberos principal name), a Dns identity
    is ``host/<dns>``; without an identity WCF's default verifier makes a Dns identity of the URL host (section 6.1).
    """
    for value in (spn, upn):
        if value:
            return value
    host = dns or url_host
    if not host:
        raise ValueError("no Spn, Upn, Dns identity or URL host to name the SPNEGO target")
    return f"host/{host}"


class NamedKerberos(GSSAPIProxy):
    """pyspnego's Kerberos initiator for ``target`` (a name from :func:`target_name`), any name type."""

    def __init__(self, target: str, **kwargs: Any) -> None:
        super().__init__(usage="initiate", protocol="kerberos", **kwargs)
        self._wssc_target = target

    def step(self, in_token: bytes | None = None, *, channel_bindings: Any = None) -> bytes | None:
        """pyspnego's step, after importing the target: ``service/host`` as a GSS host-based name (the library
        finds the realm: ``[domain_realm]`` or referrals), anything else (a realm, a port, a UPN) as a Kerberos
        principal name (RFC 1964 section 2.1.1)."""
        if self._context is None:
            import gssapi

            service, _, host = self._wssc_target.partition("/")
            if host and "@" not in host and "/" not in host and ":" not in host:
                name = gssapi.Name(f"{service}@{host}", name_type=gssapi.NameType.hostbased_service)
            else:
                name = gssapi.Name(self._wssc_target, name_type=gssapi.NameType.kerberos_principal)
            self._context = gssapi.SecurityContext(
                name=name, creds=self._credential, usage="initiate", mech=self._mech, flags=self._context_req
            )
        return super().step(in_token, channel_bindings=channel_bindings)
