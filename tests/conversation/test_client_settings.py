"""ClientSettings: one frozen value configures a ClientSession (and the HTTP clients); the keyword arguments
it replaced still work for one release, with a DeprecationWarning."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from wssc.adapters.http_client import WsscClient
from wssc.conversation.bootstrap import ClientBootstrap, TransportBootstrap
from wssc.conversation.client import ClientSession
from wssc.conversation.client_settings import DEFAULT_CLIENT_SETTINGS, ClientSettings
from wssc.security.policy import TRANSPORT_POLICY, TRANSPORT_REQUIREMENTS, ProtectionPolicy
from wssc.security.soap import SOAP11
from wssc.tokens.x509 import self_signed
from wssc.trust import actions
from wssc.trust.elements import RequestType
from wssc.trust.entropy import EntropyMode
from wssc.versions import SC_2005_02

SERVICE = self_signed("client settings service")


def test_defaults_and_derived_policy() -> None:
    assert ClientSettings() == DEFAULT_CLIENT_SETTINGS
    assert ClientSettings().message_policy == ProtectionPolicy()
    assert ClientSettings(over_tls=True).message_policy == TRANSPORT_POLICY
    assert ClientSettings(over_tls=True).response_requirements() == TRANSPORT_REQUIREMENTS
    mine = ProtectionPolicy(encrypt=False)
    assert ClientSettings(policy=mine, over_tls=True).message_policy is mine
    assert not ClientSettings(policy=mine).response_requirements().encrypted_body
    with pytest.raises(AttributeError):
        ClientSettings().key_size = 128  # type: ignore[misc]


def test_token_operations_go_to_a_separate_issuer_with_trust_actions() -> None:
    """WS-SC 1.3 section 3.2: a separate STS takes WS-Trust's generic actions; Amend stays with the service."""
    own, sts = ClientSettings(), ClientSettings(issuer_address="https://sts")
    assert own.binding(RequestType.ISSUE) is actions.Binding.SCT
    assert own.binding(RequestType.VALIDATE) is actions.Binding.TRUST
    assert sts.binding(RequestType.ISSUE) is actions.Binding.TRUST
    assert sts.binding(RequestType.AMEND) is actions.Binding.SCT


def test_token_request_reads_the_clock_only_for_a_requested_lifetime() -> None:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    reads: list[datetime] = []

    def clock() -> datetime:
        reads.append(now)
        return now

    rst = ClientSettings(entropy_mode=EntropyMode.SERVER, key_size=128).token_request(RequestType.ISSUE, clock)
    assert reads == [] and rst.entropy is None and rst.key_size == 128 and rst.lifetime is None
    assert rst.computed_key_algorithm is None
    asked = ClientSettings(requested_lifetime=timedelta(minutes=5)).token_request(RequestType.ISSUE, clock)
    assert reads == [now] and asked.lifetime is not None and asked.lifetime.expires == now + timedelta(minutes=5)
    assert asked.entropy is not None and asked.computed_key_algorithm is not None


def test_session_takes_the_settings_and_collaborators_apart() -> None:
    settings = ClientSettings(version=SC_2005_02, soap=SOAP11)
    seen: list[object] = []
    session = ClientSession(ClientBootstrap(SERVICE[0]), "http://svc/echo", settings, on_new_key=seen.append)
    assert session.settings is settings and session.on_new_key is not None
    assert ClientSession(ClientBootstrap(SERVICE[0]), "http://svc/echo").settings == ClientSettings()


def test_the_old_keywords_still_work_with_a_deprecation_warning() -> None:
    with pytest.warns(DeprecationWarning, match="settings=ClientSettings"):
        session = ClientSession(ClientBootstrap(SERVICE[0]), "http://svc/echo", version=SC_2005_02, key_size=512)
    assert session.settings == ClientSettings(version=SC_2005_02, key_size=512)
    base = ClientSettings(soap=SOAP11)
    with pytest.warns(DeprecationWarning):
        session = ClientSession(ClientBootstrap(SERVICE[0]), "http://svc/echo", base, over_tls=True)
    assert session.settings == replace(base, over_tls=True)
    with pytest.warns(DeprecationWarning), pytest.raises(TypeError):
        ClientSession(ClientBootstrap(SERVICE[0]), "http://svc/echo", no_such_option=1)


def test_http_client_takes_settings_or_the_keywords() -> None:
    settings = ClientSettings(version=SC_2005_02, issuer_address="https://sts/issue")
    with WsscClient("https://svc/echo", ClientBootstrap(SERVICE[0]), settings=settings) as client:
        assert client.session.settings is settings and client.issuer_url == "https://sts/issue"
    transport = TransportBootstrap(username="alice", password="pw")
    with WsscClient("https://svc/echo", transport, soap=SOAP11) as client:
        assert client.session.settings == ClientSettings(soap=SOAP11, over_tls=True)
    with pytest.raises(TypeError, match="not both"):
        WsscClient("https://svc/echo", ClientBootstrap(SERVICE[0]), settings=settings, version=SC_2005_02)
