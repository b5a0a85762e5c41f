"""One settings object: every section from its DESK_* variables, validated with messages that
name the variable and the allowed range; the capital reaching funds; no other env reads."""

from __future__ import annotations

import ast
import io
import logging
from datetime import UTC, datetime, time
from decimal import Decimal
from pathlib import Path

import pytest

from app.adapters import queue as queue_mod
from app.adapters.worker_heartbeat import WorkerHeartbeat
from app.container import reset_services, services
from app.logging_setup import configure_logging
from app.settings import Settings, get_settings
from app.trading.config import TradingConfig
from core.errors import ValidationError

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)  # Mon 10:30 IST

#: Every variable a test here sets, cleared first so the developer's environment cannot leak in.
DESK_VARS = (
    "DESK_CAPITAL", "DESK_MIS_LEVERAGE", "DESK_SLIPPAGE_BPS", "DESK_PARTIAL_FILLS", "DESK_MAX_DRIFT_BPS",
    "DESK_APPROVAL_TTL_SECONDS", "DESK_SQUARE_OFF_CUTOFF", "DESK_SQUARE_OFF_FEE",
    "DESK_MAX_TICK_AGE_SECONDS", "DESK_CONFIRM_NOTIONAL", "DESK_ANALYSIS_DAILY_BUDGET_INR", "DESK_GEMINI_RPM",
    "DESK_GEMINI_MODEL", "DESK_GEMINI_TIMEOUT_S", "DESK_AUTH", "DESK_SESSION_HOURS", "DESK_SIGNIN_MAX_FAILURES",
    "DESK_NOTIFY_URLS", "DESK_NOTIFY_DEDUPE_SECONDS", "DESK_LOG_LEVEL", "DESK_LOG_FORMAT", "DESK_BROKER",
    "DESK_WORKER_HEARTBEAT_S", "DESK_WORKER_HEARTBEAT_TTL_S", "DESK_REPLAY_PORT", "DESK_REPLAY_DATE",
    "DESK_REPLAY_SPEED", "DESK_ENV", "DESK_TICK_STREAM_MAXLEN",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in DESK_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no developer .env
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


# ---------------------------------------------------------------------------- capital → funds


def test_desk_capital_reaches_funds_through_the_container(monkeypatch, tmp_path, redis_url):
    monkeypatch.setenv("DESK_CAPITAL", "2500000")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'desk.db'}")
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DESK_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("DESK_ENV", "test")
    reset_services()
    try:
        svc = services()
        funds = svc.trading.funds(NOW)
        assert funds.capital == Decimal("2500000.00")
        assert funds.cash == Decimal("2500000.00") and funds.equity == Decimal("2500000.00")
        assert svc.trading.config.capital == Decimal("2500000")
    finally:
        svc.sql.dispose()
        reset_services()


def test_trading_config_copies_every_trading_setting(monkeypatch):
    values = {"DESK_CAPITAL": "5000000", "DESK_MIS_LEVERAGE": "3", "DESK_SLIPPAGE_BPS": "12.5",
              "DESK_PARTIAL_FILLS": "true", "DESK_MAX_DRIFT_BPS": "75", "DESK_APPROVAL_TTL_SECONDS": "90",
              "DESK_SQUARE_OFF_CUTOFF": "15:05", "DESK_SQUARE_OFF_FEE": "false",
              "DESK_MAX_TICK_AGE_SECONDS": "30"}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    cfg = TradingConfig.from_settings(Settings())
    assert cfg == TradingConfig(capital=Decimal(5000000), mis_leverage=Decimal(3), slippage_bps=Decimal("12.5"),
                                partial_fills=True, max_drift_bps=Decimal(75), approval_ttl_seconds=90,
                                square_off_cutoff=time(15, 5), square_off_fee=False,
                                max_tick_age_seconds=30.0)


def test_trading_defaults_match_the_config_defaults():
    # the desk refuses ticks over 30 s old; a TradingConfig built directly takes any age unless told
    assert TradingConfig.from_settings(Settings()) == TradingConfig(max_tick_age_seconds=30.0)
    assert Settings().trading.confirm_notional == Decimal(100_000)


def test_confirmation_notional_is_a_setting(monkeypatch):
    monkeypatch.setenv("DESK_CONFIRM_NOTIONAL", "250000")
    assert Settings().trading.confirm_notional == Decimal(250_000)


def _codes(outcome) -> list[str]:
    return [getattr(r, "value", r) for r in outcome.reasons]


def test_max_tick_age_refuses_an_approval_on_a_stale_price(tmp_path, redis_url):
    from tests.fixtures_trading import INFY, T0, intent, later, make_desk

    config = TradingConfig.from_section(Settings(trading={"max_tick_age_seconds": 60,
                                                              "slippage_bps": 0}).trading)
    desk = make_desk(f"sqlite:///{tmp_path / 'desk.db'}", redis_url, config=config)
    try:
        desk.tick(INFY, 1000.0)  # exchange time T0
        a = desk.svc.propose(intent(), signal_price=Decimal("1000"), reason="r", now=T0)
        before = desk.ledger_snapshot()
        stale = desk.svc.approve(a.approval_id, user="trader", now=later(120))
        assert not stale.ok and _codes(stale) == ["NO_MARKET_PRICE"]
        assert "120 s old" in " ".join(stale.messages) and "60 s" in " ".join(stale.messages)
        assert desk.ledger_snapshot() == before and desk.svc.order_book() == []
        desk.tick(INFY, 1000.0, at=later(110))  # a fresh price: 10 s old at approval
        assert desk.svc.approve(a.approval_id, user="trader", now=later(120)).ok
    finally:
        desk.sql.dispose()


# ---------------------------------------------------------------------------- validation


def test_capital_out_of_range_names_the_variable_and_range(monkeypatch):
    monkeypatch.setenv("DESK_CAPITAL", "-5")
    with pytest.raises(ValidationError) as exc:
        get_settings()
    assert str(exc.value) == "DESK_CAPITAL must be a positive amount in rupees (₹1,000 – ₹100 crore), was '-5'"


# (variable, bad value, words the message must hold besides the variable and the value)
BAD = [
    # trading
    ("DESK_CAPITAL", "ten lakh", "₹1,000 – ₹100 crore"),
    ("DESK_CAPITAL", "2000000000", "₹100 crore"),
    ("DESK_MIS_LEVERAGE", "0", "from 1 to 20"),
    ("DESK_SLIPPAGE_BPS", "-1", "from 0 to 500"),
    ("DESK_PARTIAL_FILLS", "maybe", "true or false"),
    ("DESK_MAX_DRIFT_BPS", "9999", "from 0 to 5,000"),
    ("DESK_APPROVAL_TTL_SECONDS", "5", "from 10 to 86,400"),
    ("DESK_APPROVAL_TTL_SECONDS", "1.5", "whole seconds"),
    ("DESK_SQUARE_OFF_CUTOFF", "16:00", "after 09:15 and before 15:30"),
    ("DESK_SQUARE_OFF_CUTOFF", "15:30", "after 09:15 and before 15:30"),  # the risk limits refuse the close too
    ("DESK_SQUARE_OFF_CUTOFF", "late", "HH:MM"),
    ("DESK_MAX_TICK_AGE_SECONDS", "0", "0.1 to 3,600"),
    ("DESK_CONFIRM_NOTIONAL", "-1", "₹0 to ₹100 crore"),
    # analysis
    ("DESK_ANALYSIS_DAILY_BUDGET_INR", "-1", "₹0 to ₹1,00,000"),
    ("DESK_GEMINI_RPM", "0", "from 1 to 10,000"),
    ("DESK_GEMINI_TIMEOUT_S", "abc", "from 1 to 300"),
    ("DESK_GEMINI_MODEL", "gemini 2.5 flash", "Gemini model name"),
    # auth
    ("DESK_AUTH", "maybe", "on, off or auto"),
    ("DESK_SESSION_HOURS", "0", "from 1 to 168"),
    ("DESK_SIGNIN_MAX_FAILURES", "many", "from 1 to 100"),
    # notifications
    ("DESK_NOTIFY_DEDUPE_SECONDS", "-60", "from 0 to 604,800"),
    # logging
    ("DESK_LOG_LEVEL", "LOUD", "DEBUG, INFO, WARNING, ERROR or CRITICAL"),
    ("DESK_LOG_FORMAT", "xml", "json or text"),
    # worker
    ("DESK_BROKER", "rabbitmq", "redis or stub"),
    ("DESK_WORKER_HEARTBEAT_S", "0", "0.1 to 300"),
    ("DESK_WORKER_HEARTBEAT_TTL_S", "-1", "1 to 3,600"),
    # market / replay / ticker
    ("DESK_REPLAY_PORT", "0", "1 to 65,535"),
    ("DESK_REPLAY_PORT", "http", "TCP port"),
    ("DESK_REPLAY_DATE", "16-08-2016", "YYYY-MM-DD"),
    ("DESK_REPLAY_SPEED", "0", "0.1 to 1,000"),
    ("DESK_ENV", "staging", "dev, test or prod"),
    ("DESK_TICK_STREAM_MAXLEN", "10", "1,000"),
]


@pytest.mark.parametrize(("var", "value", "rule"), BAD, ids=[f"{v}={x}" for v, x, _ in BAD])
def test_bad_value_fails_at_load_naming_variable_and_range(monkeypatch, var, value, rule):
    monkeypatch.setenv(var, value)
    with pytest.raises(ValidationError) as exc:
        Settings()
    message = str(exc.value)
    assert message.startswith(f"{var} must be "), message
    assert rule in message and repr(value) in message, message


def test_bad_value_builds_nothing(monkeypatch, tmp_path):
    state = tmp_path / "state"
    monkeypatch.setenv("DESK_STATE_DIR", str(state))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("SUPABASE_URL", raising=False)
    monkeypatch.setenv("DESK_SLIPPAGE_BPS", "-3")
    reset_services()
    try:
        with pytest.raises(ValidationError, match="DESK_SLIPPAGE_BPS"):
            services()
        with pytest.raises(ValidationError, match="DESK_SLIPPAGE_BPS"):  # not cached as a success
            get_settings()
        assert not state.exists()  # no SQLite file, no socket: nothing written
        monkeypatch.setenv("DESK_SLIPPAGE_BPS", "5")
        get_settings.cache_clear()
        assert get_settings().trading.slippage_bps == Decimal(5)
    finally:
        reset_services()


def test_lenient_spellings_are_normalised(monkeypatch):
    monkeypatch.setenv("DESK_LOG_LEVEL", "debug")
    monkeypatch.setenv("DESK_LOG_FORMAT", " TEXT ")
    monkeypatch.setenv("DESK_BROKER", " Redis ")
    monkeypatch.setenv("DESK_AUTH", "yes")
    monkeypatch.setenv("DESK_MAX_TICK_AGE_SECONDS", "")
    s = Settings()
    assert (s.logging.level, s.logging.format, s.worker.broker, s.auth.mode) == ("DEBUG", "text", "redis", "on")
    assert s.trading.max_tick_age_seconds is None


def test_sections_read_dotenv_and_ignore_stray_section_named_variables(monkeypatch, tmp_path):
    (tmp_path / ".env").write_text("DESK_CAPITAL=3000000\nDESK_REPLAY_PORT=9999\nAUTH=not-json\n")
    for stray in ("AUTH", "WORKER", "TRADING", "LOGGING"):
        monkeypatch.setenv(stray, "1")
    s = Settings()
    assert s.trading.capital == Decimal(3_000_000) and s.replay_port == 9999
    assert s.worker.broker is None and s.auth.mode == "auto"


def test_auth_follows_the_settings_env():
    assert Settings(env="prod").auth.required
    assert not Settings(env="dev").auth.required
    assert Settings(env="dev", auth={"mode": "on"}).auth.required


def test_notification_urls_are_secret(monkeypatch):
    monkeypatch.setenv("DESK_NOTIFY_URLS", "tgram://123456:SECRETTOKEN/987")
    s = Settings()
    assert s.notifications.url_text == "tgram://123456:SECRETTOKEN/987"
    assert "SECRETTOKEN" not in repr(s) and "SECRETTOKEN" not in str(s.model_dump())


# ---------------------------------------------------------------------------- readers use them


def test_broker_choice_comes_from_settings(monkeypatch):
    assert queue_mod.broker_kind(Settings(env="test")) == "stub"
    assert queue_mod.broker_kind(Settings(env="dev")) == "redis"
    monkeypatch.setenv("DESK_BROKER", "stub")
    assert queue_mod.broker_kind(Settings(env="dev")) == "stub"


def test_install_broker_gives_the_heartbeat_its_settings(monkeypatch):
    import dramatiq

    monkeypatch.setenv("DESK_WORKER_HEARTBEAT_S", "2.5")
    monkeypatch.setenv("DESK_WORKER_HEARTBEAT_TTL_S", "40")
    previous_installed, previous_global = queue_mod._installed, dramatiq.get_broker()
    queue_mod.uninstall_broker()
    try:
        broker = queue_mod.install_broker(Settings(env="test"))
        (beat,) = [m for m in broker.middleware if isinstance(m, WorkerHeartbeat)]
        assert (beat.interval_s, beat.ttl_s) == (2.5, 40)
    finally:
        queue_mod._installed = previous_installed
        dramatiq.set_broker(previous_global)


def test_logging_level_and_format_come_from_settings(monkeypatch):
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    formatters = [h.formatter for h in handlers]
    monkeypatch.setenv("DESK_LOG_LEVEL", "warning")
    monkeypatch.setenv("DESK_LOG_FORMAT", "text")
    buf = io.StringIO()
    try:
        configure_logging("test", stream=buf)
        assert root.level == logging.WARNING
        logging.getLogger("t").warning("hello")
        assert "WARNING" in buf.getvalue() and not buf.getvalue().lstrip().startswith("{")
    finally:
        for h in list(root.handlers):
            if h not in handlers:
                root.removeHandler(h)
        for h, f in zip(handlers, formatters, strict=True):
            h.setFormatter(f)
        root.setLevel(level)


# ---------------------------------------------------------------------------- nobody else reads env

#: Where the raw environment may be read, and why.
ENV_EXCEPTIONS = {
    # The launcher starts the desk's child processes (redis, replay, worker, web) and passes them
    # a copy of its environment (plus DESK_LOG_FORMAT=text): a process boundary, not a setting.
    "app/launcher.py",
}


def _sources() -> list[Path]:
    files = [ROOT / "streamlit_app.py"]
    for folder in ("app", "workers", "pages"):
        files += sorted((ROOT / folder).rglob("*.py"))
    return files


def _env_reads(tree: ast.AST) -> list[int]:
    """Lines of ``os.environ``, ``os.getenv``, ``os.putenv`` and ``from os import environ/getenv``."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb", "putenv"):
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            if any(a.name in ("environ", "getenv", "environb") for a in node.names):
                lines.append(node.lineno)
    return lines


def test_no_module_reads_the_environment_except_the_documented_ones():
    offenders = []
    for path in _sources():
        rel = path.relative_to(ROOT).as_posix()
        lines = _env_reads(ast.parse(path.read_text(encoding="utf-8")))
        if lines and rel not in ENV_EXCEPTIONS:
            offenders.append(f"{rel}:{lines}")
    assert offenders == []


def test_the_env_scan_finds_a_read():
    assert _env_reads(ast.parse("import os\nx = os.environ.get('DESK_CAPITAL')\n")) == [2]
    assert _env_reads(ast.parse("from os import getenv\n")) == [1]
    assert _env_reads(ast.parse("import os\nos.getcwd()\n")) == []


def test_only_app_settings_defines_settings_classes():
    """Another ``BaseSettings`` would read the environment on its own: one settings object."""
    offenders = []
    for path in _sources():
        rel = path.relative_to(ROOT).as_posix()
        if rel == "app/settings.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and any(
                    (isinstance(b, ast.Name) and b.id == "BaseSettings")
                    or (isinstance(b, ast.Attribute) and b.attr == "BaseSettings") for b in node.bases):
                offenders.append(f"{rel}:{node.name}")
    assert offenders == []
