"""Strategies: parameters per strategy (validated, stored), the symbols the live runner feeds
it, on/off, and the signals it proposed (each one a pending approval, never an order). A
strategy on bars the live runner does not feed (the daily ``breakout_52w``) shows as
"Backtest only", with no form and no enable control."""

from datetime import UTC, datetime

import streamlit as st

from app.ui.formatting import bar_time, frame_for_display, interval_label
from app.ui.labels import label, param_label
from app.ui.state import get_services
from core.errors import ValidationError
from app.ui.auth import guard_page

guard_page(get_services())  # sign-in, when the desk requires it

svc = get_services().strategies

st.header("Strategies")
st.caption("Enabled strategies run on every closed 1-minute bar (process `python -m workers.strategy_runner`) "
           "and propose orders to the **Approvals** page — never straight into orders.")

names = [n for n, _, _ in svc.catalog()]
titles = {n: t for n, t, _ in svc.catalog()}
name = st.selectbox("Strategy", names, format_func=lambda n: titles[n], key="strategies_pick")
cfg = svc.config(name)
st.write(dict((n, d) for n, _, d in svc.catalog())[name])
backtest_only = svc.backtest_only(name)

if backtest_only:  # the live runner does not feed its bars: nothing to enable
    st.info(f"**Backtest only.** {backtest_only}.", icon=":material/science:")
else:
    with st.form("strategies_form"):
        values = {}
        cols = st.columns(3)
        for i, p in enumerate(svc.param_specs(name)):
            current = cfg.params.get(p.name, p.default)
            with cols[i % 3]:
                if p.kind == "int":
                    values[p.name] = st.number_input(param_label(p.name), value=int(current), step=1, help=p.help,
                                                     key=f"strategies_param_{name}_{p.name}")
                else:
                    values[p.name] = st.number_input(param_label(p.name), value=float(current), help=p.help,
                                                     format="%.4g", key=f"strategies_param_{name}_{p.name}")
        symbols = st.text_input("Symbols (comma separated NSE tradingsymbols)", value=", ".join(cfg.symbols),
                                key=f"strategies_symbols_{name}")
        enabled = st.checkbox("Enabled (live runner proposes its orders)", value=cfg.enabled,
                              key=f"strategies_enabled_{name}")
        saved = st.form_submit_button("Save", key="strategies_save")
    if saved:
        try:
            svc.save(name, values, symbols.split(","), enabled=enabled, now=datetime.now(UTC))
            st.success(f"Saved {titles[name]}" + (" (enabled)" if enabled else " (disabled)"))
        except ValidationError as exc:
            st.error(str(exc), icon=":material/error:")

st.subheader("All strategies")
st.dataframe([{"Strategy": c.title, "Enabled": ("yes" if c.enabled else "no") if c.live else "backtest only",
               "Symbols": ", ".join(c.symbols) or "—",
               "Parameters": ", ".join(f"{param_label(k)} {v:g}" if isinstance(v, float) else f"{param_label(k)} {v}"
                                       for k, v in c.params.items()) or "—"} for c in svc.configs()],
             hide_index=True, key="strategies_table")

st.subheader("Recent signals")
signals = svc.recent_signals(limit=100)
if signals.empty:
    st.info("No signals yet: enable a strategy with symbols and start the runner.")
else:
    shown = signals.copy()  # the runner feeds closed 1-minute bars: "09 Sep 2016 09:23 IST"
    shown["bar_ts"] = [bar_time(ts, "minute") for ts in shown["bar_ts"]]
    shown["strategy"] = [titles.get(n, n) for n in shown["strategy"]]
    st.dataframe(frame_for_display(shown, {"quantity": "qty"}, labels={c: label(c) for c in shown.columns}),
                 hide_index=True, key="strategies_signals")
    st.caption(f"Signals on closed {interval_label('minute')} bars; bar times in IST.")
