"""Analysis: ask for a grounded second opinion on a symbol, follow the job, history, compare, outcomes."""

import time

import streamlit as st

from app.ui.analysis_widgets import analysis_card, is_repeat, request_key
from app.ui.state import get_services
from app.ui.desk import desk_clock
from app.ui.feedback import guarded
from app.ui.formatting import inr, ist, qty
from app.ui.news_widgets import news_panel
from core.analysis import OFFLINE_LABEL
from core.errors import ValidationError
from app.ui.auth import guard_page

guard_page(get_services())  # sign-in, when the desk requires it

svc = get_services()
an = svc.analysis

st.header("Analysis")
clock = desk_clock(svc)
if clock.error:
    st.warning(f"Tick cache (Redis) unavailable: {clock.error}. Market time falls back to the wall clock.",
               icon=":material/warning:")
st.caption(f"Market time {ist(clock.now)} · {clock.source}. Only data up to this moment is used.")

GEMINI = f"Gemini ({an.config.model})"
if an.gemini_configured:
    budget = guarded("The analysis store", an.budget)
    if budget is not None:
        st.caption(f"Today's Gemini budget: {inr(budget.spent)} of {inr(budget.limit)} estimated "
                   f"({qty(budget.calls)} calls)" + (" — **spent**: new Gemini calls are refused" if budget.exhausted else ""))
    choices = [GEMINI, OFFLINE_LABEL]
else:
    st.info(f"No GEMINI_API_KEY is configured: the **{OFFLINE_LABEL}** answers (deterministic rules over the same "
            "snapshot). Set GEMINI_API_KEY to ask Gemini.", icon=":material/info:")
    choices = [OFFLINE_LABEL]


def _queue(symbol: str, headlines: str, analyst: str) -> None:
    """Enqueue one analysis per request: the same request again while its job is queued or
    running, or within a few seconds (Enter in the form, then the Analyse button), follows the
    job already asked for instead of enqueueing a second one."""
    key = request_key(symbol, headlines, analyst)
    last = st.session_state.get("analysis_request")
    job = guarded("The job store", an.job, last[1]) if last and last[0] == key else None
    if last and is_repeat(last, key, job.status.value if job is not None else None, time.monotonic()):
        st.session_state["analysis_repeat"] = last[1]
        return
    try:
        job_id = an.enqueue(symbol, desk_clock(svc).now, headlines, analyst=analyst)
    except ValidationError as exc:
        st.session_state["analysis_error"] = str(exc)
        return
    st.session_state["analysis_job"] = job_id
    st.session_state["analysis_request"] = (key, job_id, time.monotonic())
    st.session_state["analysis_last_args"] = (symbol, headlines)
    st.session_state.pop("analysis_error", None)


if prefill := st.session_state.pop("analysis_prefill", None):  # Analyse on a watchlist/scanner row
    st.session_state["analysis_symbol"] = prefill
with st.form("analysis_form", border=True):
    symbol = st.text_input("Symbol", key="analysis_symbol", placeholder="e.g. INFY or NSE:SBIN")
    headlines = st.text_area("Headlines (optional, one per line; included as unverified text)",
                             key="analysis_headlines", height=80)
    choice = st.radio("Analyst", choices, key="analysis_analyst", horizontal=True)
    asked = st.form_submit_button("Analyse", type="primary")
if asked:
    _queue(symbol, headlines, "offline" if choice == OFFLINE_LABEL else "gemini")
if symbol.strip():
    with st.expander(f"News the analyst sees for {symbol.strip().upper()} (unverified, published by market time)"):
        news_panel(svc, key="analysis_news", symbol=symbol.strip(), limit=5)
repeat = st.session_state.pop("analysis_repeat", None)
if repeat:
    st.info(f"Already asked: following job {repeat[:8]} (the same request is sent once).", icon=":material/info:")

if st.session_state.get("analysis_error"):
    st.error(st.session_state["analysis_error"])


@st.fragment(run_every="1s")
def job_status(job_id: str) -> None:
    job = guarded("The job store", an.job, job_id)
    if job is None:
        return
    if job.status.value in ("queued", "running"):
        st.progress(job.progress, text=job.message or "queued: waiting for a worker")
        return
    if job.status.value == "failed":
        st.error(job.message)
        if st.button(f"Ask the {OFFLINE_LABEL} instead", key="analysis_offline"):
            sym, lines = st.session_state.get("analysis_last_args", (symbol, headlines))
            _queue(sym, lines, "offline")
            st.rerun(scope="app")
        return
    result = an.get((job.result or {}).get("analysis_id", ""))
    if result is not None:
        analysis_card(result, key="analysis_result")


if st.session_state.get("analysis_job"):
    st.subheader("Result")
    job_status(st.session_state["analysis_job"])

st.subheader("History")
history = guarded("The analysis store", an.history, None, 200) or []
if not history:
    st.info("No analyses yet. Ask about a symbol above.")
else:
    symbols = sorted({a.symbol for a in history})
    pick = st.selectbox("Symbol", symbols, key="analysis_history_symbol")
    st.dataframe(an.compare_frame(pick), hide_index=True, key="analysis_compare_table")
    mine = [a for a in history if a.symbol == pick]
    if len(mine) >= 2:
        st.caption(f"Compare: {len(mine)} analyses of {pick}")
        left, right = st.columns(2)
        with left:
            analysis_card(mine[0], key="analysis_compare_newest")
        with right:
            analysis_card(mine[1], key="analysis_compare_previous")
    elif mine:
        analysis_card(mine[0], key="analysis_compare_newest")

st.subheader("Outcomes")
st.caption("Each verdict is judged against later prices: buy/sell by which level is reached first "
           "(stop if both in one minute), else the close at the horizon; hold/avoid by whether the price "
           "stayed within ±0.5 %.")
if st.button("Score outcomes now", key="analysis_score"):
    n = guarded("The analysis store", an.score_outcomes, desk_clock(svc).now)
    if n is not None:
        st.toast(f"Scored {n} analyses")
rates = guarded("The analysis store", an.hit_rates)
if rates is not None and len(rates):
    st.dataframe(rates, hide_index=True, key="analysis_hit_rates",
                 column_config={"hit_rate": st.column_config.NumberColumn("hit rate", format="percent")})
else:
    st.caption("No verdicts to score yet.")
