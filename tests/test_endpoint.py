"""Endpoint → WebSocket URL, and the handshake headers for both auth modes."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from app.protocol.endpoint import Credentials, EndpointError, handshake_headers, host_of, realtime_url


@pytest.mark.parametrize(
    ("endpoint", "expected_prefix"),
    [
        ("https://res.services.ai.azure.com/", "wss://res.services.ai.azure.com/voice-live/realtime?"),
        ("https://res.services.ai.azure.com", "wss://res.services.ai.azure.com/voice-live/realtime?"),
        ("https://res.cognitiveservices.azure.com//", "wss://res.cognitiveservices.azure.com/voice-live/realtime?"),
        ("http://127.0.0.1:8765", "ws://127.0.0.1:8765/voice-live/realtime?"),
        ("wss://proxy.example/prefix/", "wss://proxy.example/prefix/voice-live/realtime?"),
        ("HTTPS://Res.services.ai.azure.com/", "wss://Res.services.ai.azure.com/voice-live/realtime?"),
    ],
)
def test_realtime_url_for_both_hosts_and_schemes(endpoint: str, expected_prefix: str) -> None:
    url = realtime_url(endpoint, api_version="2026-07-15", model="gpt-4o")
    assert url.startswith(expected_prefix)
    assert parse_qs(urlsplit(url).query) == {"api-version": ["2026-07-15"], "model": ["gpt-4o"]}


def test_existing_query_parameters_are_kept_but_ours_win() -> None:
    url = realtime_url("https://r.services.ai.azure.com/?model=old&x=1", api_version="v", model="gpt-realtime")
    assert parse_qs(urlsplit(url).query) == {"api-version": ["v"], "model": ["gpt-realtime"], "x": ["1"]}


@pytest.mark.parametrize("endpoint", ["", "res.services.ai.azure.com", "ftp://x.y/", "   "])
def test_unusable_endpoints_give_one_sentence(endpoint: str) -> None:
    with pytest.raises(EndpointError) as info:
        realtime_url(endpoint, api_version="v", model="m")
    message = str(info.value)
    assert message.endswith(".") and "\n" not in message


def test_api_key_header() -> None:
    headers = handshake_headers(Credentials(api_key="k123"), request_id="rid")
    assert headers == {"api-key": "k123", "x-ms-client-request-id": "rid"}


def test_bearer_header_and_a_fresh_request_id_per_connection() -> None:
    first = handshake_headers(Credentials(bearer_token="tok"))
    second = handshake_headers(Credentials(bearer_token="tok"))
    assert first["Authorization"] == "Bearer tok" and "api-key" not in first
    assert first["x-ms-client-request-id"] != second["x-ms-client-request-id"]


def test_credentials_repr_hides_the_secret() -> None:
    assert "k123" not in repr(Credentials(api_key="k123"))
    assert "zq9secret" not in repr(Credentials(bearer_token="zq9secret"))


def test_host_of_drops_userinfo_and_path() -> None:
    assert host_of("wss://user:pw@h.example:443/voice-live/realtime?api-key=x") == "h.example:443"


@pytest.mark.parametrize(
    ("endpoint", "fragment"),
    [
        ("https://res.services.ai.azure.com:99999/", "port 99999 is outside 1–65535"),
        ("https://res.services.ai.azure.com:0/", "port 0 is outside 1–65535"),
        ("https://res.services.ai.azure.com:http/", "port that is not a number"),
        ("https://[::1", "not a valid URL"),
        ("https://exa mple.com/", "not a valid host name"),
        ("https://-bad-.example/", "not a valid host name"),
        ("https://a..b/", "not a valid host name"),
        ("https://:443/", "has no host"),
    ],
)
def test_malformed_ports_and_hosts_are_one_sentence(endpoint: str, fragment: str) -> None:
    with pytest.raises(EndpointError) as info:
        realtime_url(endpoint, api_version="v", model="m")
    message = str(info.value)
    assert fragment in message and message.endswith(".") and "\n" not in message


@pytest.mark.parametrize("endpoint", ["https://[::1]:8443/", "https://10.0.0.7/", "https://bücher.example/",
                                      "https://my_host.internal/"])
def test_unusual_but_valid_hosts_are_accepted(endpoint: str) -> None:
    assert realtime_url(endpoint, api_version="v", model="m").startswith("wss://")


@pytest.mark.parametrize("endpoint", ["http://res.services.ai.azure.com/", "ws://10.1.2.3:8765/",
                                      "http://localhost.evil.example/", "http://127.0.0.1.nip.io/"])
def test_plain_text_to_another_host_is_refused_unless_allowed(endpoint: str) -> None:
    with pytest.raises(EndpointError) as info:
        realtime_url(endpoint, api_version="v", model="m")
    assert "--allow-insecure" in str(info.value) and "\n" not in str(info.value)
    assert realtime_url(endpoint, api_version="v", model="m", allow_insecure=True).startswith("ws://")


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:8765", "ws://127.3.4.5/", "http://localhost:1/",
                                      "http://[::1]:8765/", "http://LOCALHOST./", "http://emu.localhost/"])
def test_plain_text_to_this_machine_is_fine(endpoint: str) -> None:
    assert realtime_url(endpoint, api_version="v", model="m").startswith("ws://")
