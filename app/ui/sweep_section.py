"""The Backtest page's "Sweep" section: a form (strategy, each parameter from/to/step, universe,
dates, ranking metric, grid or walk-forward windows) that submits to ``SweepService``; a live
progress bar with a cancel button; the results table sorted by the metric, a heatmap of two swept
parameters (plotly), and for a walk-forward each window's in-sample best params beside its
out-of-sample metrics; and "Open full report" on any complete run, which queues it as an
ordinary backtest (``SweepService.open_run``) whose equity, trades, monthly returns and CSV the
page's results show (``backtest_focus``). Widget keys start ``backtest_sweep_``. The work
happens in ``app.research.sweeps``; this module only draws and calls it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app.ui import formatting as fmt
from app.ui import labels
from core.backtest.sweep import METRIC_GOALS, value_range
from core.errors import ValidationError

#: Result columns and how they are shown (``app.ui.formatting`` kinds).
METRIC_KINDS = {"total_return_pct": "signed_pct", "sharpe": "number", "max_drawdown_pct": "pct", "trades": "qty",
                "win_rate_pct": "pct", "net_pnl": "money"}
MODES = {"grid": "Grid (every combination)", "walk_forward": "Walk-forward (fit, then test out of sample)"}


def ranges_from_inputs(specs: list[Any], inputs: dict[str, tuple[float, float, float]]) -> tuple[dict, dict]:
    """``(ranges, fixed)`` from each parameter's ``(from, to, step)``: a parameter whose ``to``
    equals its ``from`` is fixed at it, else swept over ``core.backtest.sweep.value_range``.
    Raises ``ValidationError`` naming the parameter when a range is bad, or when none is swept."""
    ranges, fixed = {}, {}
    for p in specs:
        lo, hi, step = inputs[p.name]
        kind = int if p.kind == "int" else float
        if hi == lo:
            fixed[p.name] = kind(lo)
            continue
        try:
            ranges[p.name] = value_range(float(lo), float(hi), float(step), kind=kind)
        except ValidationError as exc:
            raise ValidationError(f"{labels.param_label(p.name)}: {exc}") from None
    if not ranges:
        raise ValidationError("nothing to sweep: give at least one parameter a To different from its From")
    return ranges, fixed


def results_display(df: pd.DataFrame, names: list[str], walk_forward: bool = False) -> pd.DataFrame:
    """The results frame (``SweepService.results``) with human headers and formatted metrics
    (phase and window only for a walk-forward)."""
    cols = [*(["phase", "window"] if walk_forward else []), *names, *METRIC_KINDS, "status", "worker"]
    heads = {c: labels.param_label(c) for c in names} | {c: labels.label(c) for c in METRIC_KINDS}
    heads |= {"phase": "Phase", "window": "Window", "status": "Status", "worker": "Worker"}
    return fmt.frame_for_display(df[cols], {**METRIC_KINDS, **{n: "text" for n in names}}, heads)


def run_tag(row: Any, names: list[str], metric: str, walk_forward: bool = False) -> str:
    """One results row as a pick-list entry: ``"run 3 · Fast 5, Slow 20 · Sharpe 1.23"`` (a
    walk-forward's with ``"window 0 test"`` after the run number)."""
    where = f" · window {row['window']} {row['phase']}" if walk_forward else ""
    params = ", ".join(f"{labels.param_label(n)} {row[n]:g}" if isinstance(row[n], float) else
                       f"{labels.param_label(n)} {row[n]}" for n in names)
    return (f"run {row['run_no']}{where} · {params} · {labels.label(metric)} "
            f"{labels.format_metric(metric, row.get(metric))}")


def heatmap_figure(heat: pd.DataFrame, x: str, y: str, metric: str) -> go.Figure:
    """``SweepService.heatmap`` as a plotly heatmap: ``x`` across, ``y`` up, cells ``metric``."""
    text = [[labels.format_metric(metric, v) for v in row] for row in heat.to_numpy()]
    fig = go.Figure(go.Heatmap(z=heat.to_numpy(), x=[str(c) for c in heat.columns], y=[str(i) for i in heat.index],
                               text=text, texttemplate="%{text}", colorscale="RdYlGn",
                               colorbar=dict(title=labels.label(metric)),
                               hovertemplate=f"{labels.param_label(x)} %{{x}}<br>{labels.param_label(y)} %{{y}}<br>"
                                             f"{labels.label(metric)} %{{text}}<extra></extra>"))
    fig.update_layout(title=f"{labels.label(metric)} by {labels.param_label(x)} × {labels.param_label(y)}",
                      xaxis_title=labels.param_label(x), yaxis_title=labels.param_label(y),
                      xaxis_type="category", yaxis_type="category", margin=dict(l=10, r=10, t=40, b=10), height=420)
    return fig


def windows_display(df: pd.DataFrame, names: list[str], metric: str) -> pd.DataFrame:
    """Walk-forward windows: dates, in-sample best params and metric, out-of-sample metrics."""
    fit_col = f"fit_{metric}"
    heads = {"window": "Window", "fit_start": "Fit from", "fit_end": "Fit to", "test_start": "Test from",
             "test_end": "Test to", fit_col: f"In-sample {labels.label(metric)}", "status": "Test status"}
    heads |= {c: f"Best {labels.param_label(c)}" for c in names}
    heads |= {c: f"Out-of-sample {labels.label(c)}" for c in METRIC_KINDS}
    kinds = {"fit_start": "date", "fit_end": "date", "test_start": "date", "test_end": "date",
             fit_col: METRIC_KINDS.get(metric, "number"), **METRIC_KINDS}
    return fmt.frame_for_display(df, kinds, heads)


def render(services: Any, symbol_options: list[str], first_day: date, last_day: date) -> None:
    """Draw the section with the page's services, symbol choices and default dates."""
    sweeps, strategies = services.sweeps, services.strategies
    st.subheader("Sweep")
    st.caption("Backtest every combination of parameter values (or a walk-forward: fit on earlier sessions, test "
               "on the next ones) as jobs that every running worker shares; results are stored and ranked.")
    titles = dict(sweeps.catalog())
    name = st.selectbox("Strategy", list(titles), format_func=titles.get, key="backtest_sweep_strategy")
    specs = strategies.param_specs(name)
    daily = services.backtests.interval_of(name) == "day"  # a year of daily bars; windows in daily sessions
    if st.session_state.get("backtest_sweep_daily") != daily:  # other bars: their own default dates and windows
        for k in ("backtest_sweep_start", "backtest_sweep_fit", "backtest_sweep_test"):
            st.session_state.pop(k, None)
        st.session_state["backtest_sweep_daily"] = daily
    with st.form("backtest_sweep_form"):
        st.caption("Each parameter from … to … by step; a To equal to From keeps the parameter fixed.")
        inputs = {}
        for p in specs:
            c = st.columns([2, 1, 1, 1])
            c[0].markdown(f"**{labels.param_label(p.name)}**", help=p.help or None)
            num = int if p.kind == "int" else float
            d = num(p.default)
            lo = c[1].number_input("From", value=d, key=f"backtest_sweep_from_{name}_{p.name}")
            hi = c[2].number_input("To", value=d, key=f"backtest_sweep_to_{name}_{p.name}")
            step = c[3].number_input("Step", value=num(1) if p.kind == "int" else 0.1,
                                     key=f"backtest_sweep_step_{name}_{p.name}")
            inputs[p.name] = (lo, hi, step)
        symbols = st.multiselect("Symbols", symbol_options, default=symbol_options[:2], accept_new_options=True,
                                 key="backtest_sweep_symbols")
        c1, c2, c3 = st.columns(3)
        start = c1.date_input("From", first_day - timedelta(days=365) if daily else first_day, max_value=last_day,
                              key="backtest_sweep_start", format=fmt.DATE_INPUT_FORMAT)
        end = c2.date_input("To", last_day, max_value=last_day, key="backtest_sweep_end", format=fmt.DATE_INPUT_FORMAT)
        metric = c3.selectbox("Rank by", list(METRIC_GOALS), format_func=labels.label, key="backtest_sweep_metric",
                              help="Results are sorted by it; a walk-forward's fit picks the params with the best")
        mode = st.radio("Kind", list(MODES), format_func=MODES.get, horizontal=True, key="backtest_sweep_mode")
        w1, w2, w3 = st.columns(3)
        fit = w1.number_input("Fit window (sessions)", value=120 if daily else 2, step=1, key="backtest_sweep_fit")
        test = w2.number_input("Test window (sessions)", value=20 if daily else 1, step=1, key="backtest_sweep_test")
        anchored = w3.checkbox("Anchored (every fit starts at the first session)", key="backtest_sweep_anchored")
        submitted = st.form_submit_button("Run sweep", key="backtest_sweep_run")
    if submitted:
        try:
            ranges, fixed = ranges_from_inputs(specs, inputs)
            walk = dict(fit_sessions=int(fit), test_sessions=int(test), anchored=anchored) if mode == "walk_forward" else {}
            sid = sweeps.submit(name, fixed, ranges, symbols, start, end, now=datetime.now(UTC), metric=metric, **walk)
            st.session_state["backtest_sweep_pick"] = sid
            st.success(f"Sweep queued: {sweeps.progress(sid).total} runs — progress below")
        except ValidationError as exc:
            st.error(str(exc), icon=":material/error:")

    rows = sweeps.sweeps(20)
    if not rows:
        st.info("No sweeps yet.")
        return
    ids = [r["sweep_id"] for r in rows]
    tags = {r["sweep_id"]: f"{r['label']} [{r['sweep_id'][-4:]}]" for r in rows}
    if st.session_state.get("backtest_sweep_pick") not in ids:
        st.session_state["backtest_sweep_pick"] = ids[0]
    sid = st.selectbox("Sweep", ids, format_func=tags.get, key="backtest_sweep_pick")
    drawn = sweeps.progress(sid)
    _progress(sweeps, sid, drawn.finished)
    _results(sweeps, sid)


@st.fragment(run_every="1s")
def _progress(sweeps: Any, sid: str, drawn: int) -> None:
    """Live progress and the cancel button; reruns the page when more runs have finished since it drew."""
    prog = sweeps.progress(sid)
    workers = f" · {len(prog.workers)} worker(s)" if prog.workers else ""
    st.progress(prog.fraction, text=f"{prog.status} · {prog.finished}/{prog.total} runs{workers}")
    if prog.status == "running":
        if st.button("Cancel sweep", key="backtest_sweep_cancel", icon=":material/cancel:"):
            n = sweeps.cancel(sid, datetime.now(UTC))
            st.toast(f"Sweep cancelled: {n} queued run(s) will not run")
            st.rerun(scope="app")
        if prog.finished > drawn and (prog.finished - drawn >= max(1, prog.total // 10)):
            st.rerun(scope="app")
    elif prog.finished != drawn:
        st.rerun(scope="app")


def _results(sweeps: Any, sid: str) -> None:
    row = sweeps.sweep(sid)
    names, metric = list(row["ranges"]), row["metric"]
    res = sweeps.results(sid)
    if not (res["status"] == "complete").any():
        st.caption("No run has finished yet.")
        return
    st.caption(f"{', '.join(row['symbols'])} · {fmt.ist_date(row['start'])} – {fmt.ist_date(row['end'])} · "
               f"ranked by {labels.label(metric)}")
    if row["kind"] == "walk_forward":
        st.markdown("**Walk-forward windows**")
        st.dataframe(windows_display(sweeps.windows(sid), names, metric), hide_index=True, key="backtest_sweep_windows")
    if len(names) >= 2:
        c1, c2 = st.columns(2)
        x = c1.selectbox("Heatmap across", names, format_func=labels.param_label, key="backtest_sweep_x")
        y = c2.selectbox("Heatmap up", [n for n in names if n != x], format_func=labels.param_label,
                         key="backtest_sweep_y")
        st.plotly_chart(heatmap_figure(sweeps.heatmap(sid, x, y), x, y, metric), key="backtest_sweep_heatmap")
    st.dataframe(results_display(res, names, row["kind"] == "walk_forward"), hide_index=True,
                 key="backtest_sweep_results")
    _open_run(sweeps, sid, res[res["status"] == "complete"], names, metric, row["kind"] == "walk_forward")


def _open_run(sweeps: Any, sid: str, done: pd.DataFrame, names: list[str], metric: str, walk: bool) -> None:
    """Pick a complete run (best first) and queue it as a full backtest shown in the page's results."""
    rows = {int(r["run_no"]): r for r in done.to_dict("records")}
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    pick = c1.selectbox("One run in full (equity vs NIFTY 50, trades, monthly returns, CSV)", list(rows),
                        format_func=lambda n: run_tag(rows[n], names, metric, walk), key="backtest_sweep_open_pick")
    if c2.button("Open full report", key="backtest_sweep_open", icon=":material/open_in_full:"):
        try:
            run_id = sweeps.open_run(sid, int(pick), datetime.now(UTC))
            st.session_state["backtest_focus"] = [run_id]  # the page shows it under Results when complete
            st.success(f"Run {pick} queued as a backtest: its full report shows under Runs above when it completes")
        except ValidationError as exc:
            st.error(str(exc), icon=":material/error:")


__all__ = ["heatmap_figure", "ranges_from_inputs", "render", "results_display", "run_tag", "windows_display"]
