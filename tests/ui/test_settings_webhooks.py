"""AppTest for the Settings page's Webhooks section: create a secret, see its URLs once, rotate."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from app.container import reset_services, services
from tests.kite_fixtures import kite_replay  # noqa: F401

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "settings.py")


@pytest.fixture()
def env(monkeypatch, tmp_path, redis_url, kite_replay):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'desk.db'}")
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DESK_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("DESK_REPLAY_PORT", str(kite_replay.port))
    monkeypatch.setenv("DESK_REPLAY_API_KEY", kite_replay.api_key)
    monkeypatch.setenv("DESK_REPLAY_API_SECRET", kite_replay.api_secret)
    monkeypatch.delenv("KITE_API_KEY", raising=False)
    reset_services()
    st.cache_resource.clear()
    yield
    reset_services()
    st.cache_resource.clear()


def _urls(at: AppTest) -> list[str]:
    return [c.value for c in at.code if "/api/v1/webhooks/" in c.value]


def test_create_shows_both_urls_once_then_only_the_prefix(env):
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception
    assert any("No webhook secret yet" in i.value for i in at.info)
    at.button(key="settings_webhook_rotate").click().run()
    assert not at.exception
    urls = _urls(at)
    assert [u.split("/")[-2] for u in urls] == ["tradingview", "chartink"]
    secret = urls[0].rsplit("/", 1)[1]
    assert services().webhooks.secrets.owner_of(secret) == "trader"
    at.run()  # any later run: the secret is gone, the prefix stays
    assert _urls(at) == []
    assert any(f"pdw_{secret.split('_')[1]}_…" in m.value for m in at.markdown)
    assert at.button(key="settings_webhook_rotate").label == "Rotate webhook secret"


def test_rotate_revokes_the_previous_secret(env):
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.button(key="settings_webhook_rotate").click().run()
    first = _urls(at)[0].rsplit("/", 1)[1]
    at.button(key="settings_webhook_rotate").click().run()
    second = _urls(at)[0].rsplit("/", 1)[1]
    assert first != second
    from app.trading.webhook_intake import SecretRefused

    with pytest.raises(SecretRefused, match="rotated or revoked"):
        services().webhooks.secrets.owner_of(first)
    assert services().webhooks.secrets.owner_of(second) == "trader"
