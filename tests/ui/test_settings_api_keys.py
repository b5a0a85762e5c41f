"""AppTest for the Settings page's API keys section: create with scopes (shown once), list with
prefix, scopes, created and last used, revoke."""

from __future__ import annotations

from datetime import UTC, datetime
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


def _keys_table(at: AppTest):
    tables = [d.value for d in at.dataframe if {"key", "scopes", "last used"} <= set(d.value.columns)]
    assert len(tables) == 1, "one API keys table"
    return tables[0]


def _tokens(at: AppTest) -> list[str]:
    return [c.value for c in at.code if c.value.startswith("pdk_")]


def test_create_shows_the_key_once_then_lists_it_and_revoke_stops_it(env):
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception
    assert any("No API keys yet" in i.value for i in at.info)
    at.text_input(key="settings_api_key_label").input("my script")
    at.multiselect(key="settings_api_key_scopes").set_value(["read", "propose"])
    at.button(key="FormSubmitter:settings_api_key_form-Create API key").click().run()
    assert not at.exception
    tokens = _tokens(at)
    assert len(tokens) == 1
    token = tokens[0]
    key = services().api_keys.authenticate(token, now=datetime.now(UTC))
    assert key.username == "trader" and key.scopes == {"read", "propose"} and key.label == "my script"
    at.run()  # any later run: the token is gone, the prefix stays in the list
    assert _tokens(at) == []
    table = _keys_table(at)
    assert list(table["key"]) == [key.prefix] and list(table["scopes"]) == ["propose read"]
    assert list(table["status"]) == ["active"]
    at.button(key="settings_api_key_revoke").click().run()
    assert not at.exception
    assert any("Revoked API key" in s.value for s in at.success)
    assert services().api_keys.keys("trader")[0].revoked_at is not None
    assert "revoked" in _keys_table(at)["status"][0]


def test_create_without_scopes_says_what_to_fix(env):
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.multiselect(key="settings_api_key_scopes").set_value([])
    at.button(key="FormSubmitter:settings_api_key_form-Create API key").click().run()
    assert not at.exception
    assert any("at least one scope" in e.value for e in at.error)
    assert services().api_keys.keys("trader") == []
