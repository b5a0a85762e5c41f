"""Tables of the paper desk (SQLAlchemy Core, their own ``MetaData``), on SQLite and PostgreSQL.

Money is exact ``Numeric`` (rupees to the paisa); times ``UtcDateTime`` (stored UTC); ``day``
columns are the IST trading date. Keys that make the flow exactly-once:

* ``orders.approval_id`` is UNIQUE: an approval becomes at most one order;
* ``orders.decision_id`` references ``risk_decisions``: no order without a risk decision (and
  the store only inserts an order for an *approved* one);
* ``fills.fill_id`` (``<order_id>-<seq>``) is the primary key and ``(order_id, seq)`` unique:
  a replayed fill is a no-op; ``fills.order_id`` references ``orders``;
* ``ledger.entry_id`` is UNIQUE and the ledger is append-only (no update or delete anywhere);
* ``square_offs`` (day, instrument_token, product) is the primary key: one auto square-off
  per position per day.

Columns added after a table first shipped are nullable: ``TradingStore`` adds any that an
existing database lacks (``ALTER TABLE … ADD COLUMN``, SQLite and PostgreSQL alike), and the
generated Supabase migration (``app.adapters.migrations``) carries ``add column if not exists``.

Positions are stored (``positions``, one row per ``(instrument_token, product)``) and changed
only in the same transaction as the fill that moves them; they can always be re-derived from
``fills`` (``tests/app/test_trading_properties.py`` checks that they agree).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from app.adapters.store.schema import UtcDateTime

metadata = MetaData()

_ID = BigInteger().with_variant(Integer(), "sqlite")  # autoincrement on both backends


def _money() -> Numeric:
    return Numeric(20, 2, asdecimal=True)


def _price() -> Numeric:
    return Numeric(18, 4, asdecimal=True)


approvals = Table(
    "trading_approvals",
    metadata,
    Column("approval_id", String(64), primary_key=True),
    Column("trace_id", String(64), nullable=False),
    Column("source", String(32), nullable=False),
    Column("strategy", String(64), nullable=False, default=""),
    Column("reason", Text, nullable=False, default=""),
    Column("instrument_token", BigInteger, nullable=False),
    Column("tradingsymbol", String(64), nullable=False),
    Column("side", String(8), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("product", String(8), nullable=False),
    Column("order_type", String(8), nullable=False),
    Column("validity", String(8), nullable=False),
    Column("price", _price(), nullable=True),
    Column("trigger_price", _price(), nullable=True),
    Column("stop_loss", _price(), nullable=True),
    Column("target", _price(), nullable=True),
    Column("tag", String(32), nullable=False, default=""),
    Column("signal_price", _price(), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("decided_by", String(64), nullable=True),
    Column("decided_at", UtcDateTime, nullable=True),
    Column("decision_price", _price(), nullable=True),
    Column("decision_note", Text, nullable=False, default=""),
    Column("risk_approved", Boolean, nullable=False, default=False),
    Column("risk_reasons", JSON, nullable=False),
    Column("risk_messages", JSON, nullable=False),
    Column("risk_price", _price(), nullable=True),
    Column("risk_at", UtcDateTime, nullable=True),
    # Kite's market_protection for MARKET/SL-M (-1 automatic, else percent; NULL: the desk's
    # automatic default). Added after the first release: nullable (TradingStore adds it).
    Column("market_protection", _price(), nullable=True),
)
Index("ix_trading_approvals_status", approvals.c.status, approvals.c.created_at)
Index("ix_trading_approvals_trace", approvals.c.trace_id)

risk_decisions = Table(
    "trading_risk_decisions",
    metadata,
    Column("decision_id", String(96), primary_key=True),
    Column("trace_id", String(64), nullable=False),
    Column("approval_id", String(64), nullable=True),
    Column("stage", String(16), nullable=False),  # preview | approval | manual | system
    Column("approved", Boolean, nullable=False),
    Column("reasons", JSON, nullable=False),
    Column("messages", JSON, nullable=False),
    Column("price", _price(), nullable=True),
    Column("at", UtcDateTime, nullable=False),
)
Index("ix_trading_risk_trace", risk_decisions.c.trace_id)
Index("ix_trading_risk_approval", risk_decisions.c.approval_id)

orders = Table(
    "trading_orders",
    metadata,
    Column("order_id", String(96), primary_key=True),
    Column("approval_id", String(64), nullable=True, unique=True),
    Column("decision_id", String(96), ForeignKey("trading_risk_decisions.decision_id"), nullable=False),
    Column("trace_id", String(64), nullable=False),
    Column("instrument_token", BigInteger, nullable=False),
    Column("tradingsymbol", String(64), nullable=False),
    Column("side", String(8), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("product", String(8), nullable=False),
    Column("order_type", String(8), nullable=False),
    Column("validity", String(8), nullable=False),
    Column("price", _price(), nullable=True),
    Column("trigger_price", _price(), nullable=True),
    Column("stop_loss", _price(), nullable=True),
    Column("target", _price(), nullable=True),
    Column("tag", String(32), nullable=False, default=""),
    Column("strategy", String(64), nullable=False, default=""),
    Column("status", String(20), nullable=False),
    Column("placed_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("day", Date, nullable=False),
    Column("tick_size", _price(), nullable=False),
    Column("filled_quantity", Integer, nullable=False, default=0),
    Column("filled_turnover", _money(), nullable=False),
    Column("fill_count", Integer, nullable=False, default=0),
    Column("queued_for_open", Boolean, nullable=False, default=False),
    Column("status_message", Text, nullable=False, default=""),
    # Market protection (Kite, from 1 Apr 2026; core.market_protection): the order's
    # market_protection and the protection price ₹ it rests at as a LIMIT (NULL: not protected).
    # Added after the first release: nullable, so TradingStore adds them to an existing table.
    Column("market_protection", _price(), nullable=True),
    Column("protection_price", _price(), nullable=True),
)
Index("ix_trading_orders_status", orders.c.status)
Index("ix_trading_orders_day", orders.c.day)
Index("ix_trading_orders_trace", orders.c.trace_id)

fills = Table(
    "trading_fills",
    metadata,
    Column("fill_id", String(128), primary_key=True),
    Column("order_id", String(96), ForeignKey("trading_orders.order_id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("trace_id", String(64), nullable=False),
    Column("instrument_token", BigInteger, nullable=False),
    Column("tradingsymbol", String(64), nullable=False),
    Column("side", String(8), nullable=False),
    Column("product", String(8), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("price", _price(), nullable=False),
    Column("brokerage", _money(), nullable=False),
    Column("stt", _money(), nullable=False),
    Column("exchange_txn", _money(), nullable=False),
    Column("sebi", _money(), nullable=False),
    Column("ipft", _money(), nullable=False),
    Column("stamp", _money(), nullable=False),
    Column("square_off_fee", _money(), nullable=False),
    Column("gst", _money(), nullable=False),
    Column("charges_total", _money(), nullable=False),
    Column("realized", _money(), nullable=False),
    Column("filled_at", UtcDateTime, nullable=False),
    Column("day", Date, nullable=False),
    Column("settles_on", Date, nullable=True),
    Column("strategy", String(64), nullable=False, default=""),
    Column("tag", String(32), nullable=False, default=""),
    UniqueConstraint("order_id", "seq", name="uq_trading_fills_order_seq"),
)
Index("ix_trading_fills_day", fills.c.day)
Index("ix_trading_fills_trace", fills.c.trace_id)

ledger = Table(
    "trading_ledger",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("entry_id", String(160), nullable=False, unique=True),
    Column("at", UtcDateTime, nullable=False),
    Column("day", Date, nullable=False),
    Column("kind", String(24), nullable=False),
    Column("amount", _money(), nullable=False),
    Column("reference", String(128), nullable=False, default=""),
    Column("instrument_token", BigInteger, nullable=False, default=0),
    Column("trace_id", String(64), nullable=False, default=""),
    Column("memo", Text, nullable=False, default=""),
)
Index("ix_trading_ledger_day", ledger.c.day)

positions = Table(
    "trading_positions",
    metadata,
    Column("instrument_token", BigInteger, primary_key=True, autoincrement=False),
    Column("product", String(8), primary_key=True),
    Column("tradingsymbol", String(64), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("cost", _money(), nullable=False),
    Column("realized_pnl", _money(), nullable=False),
    Column("day", Date, nullable=False),  # IST date the buy/sell stats below belong to
    Column("buy_quantity", Integer, nullable=False),
    Column("buy_value", _money(), nullable=False),
    Column("sell_quantity", Integer, nullable=False),
    Column("sell_value", _money(), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

square_offs = Table(
    "trading_square_offs",
    metadata,
    Column("day", Date, primary_key=True),
    Column("instrument_token", BigInteger, primary_key=True, autoincrement=False),
    Column("product", String(8), primary_key=True),
    Column("order_id", String(96), nullable=False),
    Column("at", UtcDateTime, nullable=False),
)

audit = Table(
    "trading_audit",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("trace_id", String(64), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("price", _price(), nullable=True),
    Column("details", JSON, nullable=False),
)
Index("ix_trading_audit_trace", audit.c.trace_id)

risk_limits = Table(
    "trading_risk_limits",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("limits", JSON, nullable=False),
    Column("saved_by", String(64), nullable=False),
    Column("saved_at", UtcDateTime, nullable=False),
)

desk_state = Table(
    "trading_desk_state",
    metadata,
    Column("key", String(16), primary_key=True),
    Column("halted", Boolean, nullable=False, default=False),
    Column("halted_by", String(64), nullable=False, default=""),
    Column("halted_at", UtcDateTime, nullable=True),
    Column("safe_mode", Boolean, nullable=False, default=False),
    Column("safe_mode_day", Date, nullable=True),
    Column("equity_peak", _money(), nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
)

#: Exits that manage themselves (``app.trading.exits``): one row per entry's exit group (``OCO``,
#: MIS) or GTT (``GTT``, CNC); ``state`` the JSON of the ``core.exits`` value, ``version`` the
#: optimistic-concurrency counter every update checks and bumps.
exits = Table(
    "trading_exits",
    metadata,
    Column("group_id", String(64), primary_key=True),
    Column("kind", String(8), nullable=False),
    Column("entry_order_id", String(96), nullable=False, unique=True),
    Column("instrument_token", BigInteger, nullable=False),
    Column("tradingsymbol", String(64), nullable=False),
    Column("product", String(8), nullable=False),
    Column("status", String(16), nullable=False),
    Column("trace_id", String(64), nullable=False),
    Column("state", JSON, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)
Index("ix_trading_exits_status", exits.c.status)
