"""Streamlit pieces for analyses: the latest-analysis badge (approval cards, scanner rows) and
the analysis card. The offline analyst is always labelled as such."""

from __future__ import annotations

from typing import Any

import streamlit as st

from app.adapters.analysis_store import StoredAnalysis
from app.ui.formatting import fraction_pct, inr, ist, ist_time, qty

VERDICT_COLOUR = {"buy": "green", "sell": "red", "hold": "blue", "avoid": "gray"}


def _levels(a: StoredAnalysis) -> str:
    if a.entry is None:
        return "no levels"
    return f"entry {inr(a.entry)} · stop {inr(a.stop)} · target {inr(a.target)}"


def badge_text(a: StoredAnalysis) -> str:
    """One-line markdown: ``:green-badge[… BUY 72 %] · levels · as of`` (label names the analyst)."""
    colour = VERDICT_COLOUR.get(a.verdict, "gray")
    return (f":{colour}-badge[:material/psychology: {a.verdict.upper()} {fraction_pct(a.confidence)}] "
            f"**{a.label}** · {_levels(a)} · as of {ist(a.as_of)}")


def latest_analysis_badge(svc: Any, symbol: str | int) -> None:
    """Show the newest analysis of ``symbol`` (key or instrument_token) in one line, or a hint.

    Never raises: a store or Redis outage shows a caption instead (the host page must keep working).
    """
    try:
        a = svc.analysis.latest(symbol)
    except Exception as exc:  # noqa: BLE001 - a badge must not break an approval card
        st.caption(f":material/psychology: analysis unavailable ({type(exc).__name__})")
        return
    if a is None:
        st.caption(":material/psychology: no analysis yet (ask on the Analysis page)")
        return
    st.markdown(badge_text(a))


#: A request repeated within this many seconds is the same click (Enter, then the Analyse button).
REPEAT_WINDOW_S = 10.0


def request_key(symbol: str, headlines: str, analyst: str) -> tuple[str, str, str]:
    """What makes two Analyse requests the same: the symbol as typed (trimmed, upper case), the
    headlines (trimmed lines, blanks dropped) and the analyst."""
    lines = "\n".join(line.strip() for line in (headlines or "").splitlines() if line.strip())
    return (symbol or "").strip().upper(), lines, analyst


def is_repeat(last: tuple, key: tuple, job_status: str | None, now: float) -> bool:
    """True when ``key`` repeats ``last`` = ``(key, job_id, monotonic seconds)`` while that job is
    still ``queued``/``running`` or within ``REPEAT_WINDOW_S``: the page then follows the job
    already asked for rather than enqueueing a second one."""
    same = last[0] == key
    return same and (job_status in ("queued", "running") or now - last[2] < REPEAT_WINDOW_S)


def analysis_card(a: StoredAnalysis, *, key: str) -> None:
    """The full analysis: analyst label, verdict, levels, reasons, risks, notes, cost, snapshot."""
    with st.container(border=True, key=key):
        colour = VERDICT_COLOUR.get(a.verdict, "gray")
        st.markdown(f"#### :{colour}[{a.verdict.upper()}] {a.symbol} · confidence {fraction_pct(a.confidence)} · "
                    f"{a.time_horizon}")
        who = f"**{a.label}**" + (" — deterministic rules, no model was asked" if a.offline else "")
        st.markdown(f"{who} · as of {ist(a.as_of)} (market time)" + (" · cached" if a.cached else ""))
        st.markdown(f"**Levels:** {_levels(a)} · LTP then {inr(a.snapshot.get('ltp'))}")
        st.markdown("**Reasons**\n" + "\n".join(f"- {r}" for r in a.reasons))
        if a.risks:
            st.markdown("**Risks**\n" + "\n".join(f"- {r}" for r in a.risks))
        for note in a.notes:
            st.caption(f"• {note}")
        if a.snapshot.get("headlines"):
            st.warning("Included unverified headlines pasted by the trader: "
                       + " | ".join(a.snapshot["headlines"]), icon=":material/report:")
        news = a.snapshot.get("news") or []
        if news:  # feed text: shown as text, never markdown
            st.caption("Unverified news items the analyst was shown (time, source, headline; not checked by the desk):")
            st.text("\n".join(f"{ist_time(n.get('published_at'))} · {n.get('source', '')} · {n.get('title', '')}"
                               for n in news))
        if not a.offline:
            st.caption(f"{qty(a.prompt_tokens)} prompt + {qty(a.output_tokens)} output tokens · est. {inr(a.cost_inr, decimals=4)}")
        if a.outcome:
            st.caption(f"Outcome: **{a.outcome}** — {a.outcome_detail or ''}")
        with st.expander("Snapshot (the numbers the analyst saw)"):
            st.json(a.snapshot, expanded=False)


def analysis_cell(svc: Any, symbol: str | int) -> str:
    """Plain text for a table cell: ``"BUY 72 % · Gemini · 09 Sep 10:15"``, or ``"—"`` when
    there is no analysis (or the store is down)."""
    try:
        a = svc.analysis.latest(symbol)
    except Exception:  # noqa: BLE001 - a table cell must not break the page
        return "—"
    if a is None:
        return "—"
    return f"{a.verdict.upper()} {fraction_pct(a.confidence)} · {a.label} · {ist(a.as_of)}"
