"""System: workers, queues and failed messages (retry/discard), ticker, Kite token, Redis and
store health, the clock's last runs, the morning backfill's progress and the NSE calendar's
horizon. Refreshes every 5 s."""

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from app.market.history_warmup import latest_morning
from app.ui.formatting import frame_for_display, ist_date, qty
from app.ui.state import get_services
from app.ui.widgets import fmt_ist
from app.ui.auth import guard_page

guard_page(get_services())  # sign-in, when the desk requires it

svc = get_services()
ops = svc.operations
st.header("System")

_BADGE = {True: ":green-badge[OK]", False: ":red-badge[Down]"}
_LEVEL = {"ok": ":green-badge[OK]", "warning": ":orange-badge[Attention]", "error": ":red-badge[Problem]"}


#: Count columns of the Workers and Queues tables: grouped the Indian way (1,23,456).
_COUNTS = {c: "qty" for c in ("threads", "in flight", "processed", "failed", "ready", "waiting to retry")}


def _ms(v: float | None) -> str:
    return "—" if v is None else f"{v:.1f} ms"


def _age(when: datetime | None, now: datetime) -> str:
    return "—" if when is None else f"{max(0.0, (now - when).total_seconds()):.0f} s ago"


def confirm_box() -> None:
    """The pending retry/discard, asked once more before it is done."""
    pending = st.session_state.get("system_pending")
    if not pending:
        return
    action, queue, redis_id, label = pending
    st.warning(f"{action.title()} the failed message {label} on queue `{queue}`?"
               + (" It runs again with a fresh retry budget." if action == "retry" else " It is deleted for good."),
               icon=":material/help:")
    yes, no = st.columns(2)
    if yes.button(f"Yes, {action}", key="system_confirm_yes", type="primary"):
        try:
            done = ops.retry(queue, redis_id) if action == "retry" else ops.discard(queue, redis_id)
        except Exception as exc:  # noqa: BLE001 - Redis down: say so
            st.session_state["system_flash"] = ("error", f"Could not {action}: {exc}")
        else:
            st.session_state["system_flash"] = (
                ("success", f"{'Re-queued' if action == 'retry' else 'Discarded'} {label} on `{queue}`.") if done
                else ("info", f"{label} was no longer in the dead-letter queue (already retried or discarded)."))
        st.session_state.pop("system_pending", None)
        st.rerun()
    if no.button("Cancel", key="system_confirm_no"):
        st.session_state.pop("system_pending", None)
        st.rerun()


flash = st.session_state.pop("system_flash", None)
if flash:
    getattr(st, flash[0])(flash[1])
confirm_box()


def _probes(h) -> None:
    c1, c2, c3, c4 = st.columns(4)
    with c1:
        st.markdown(f"**Redis** {_BADGE[h.redis.ok]}")
        st.caption(f"{_ms(h.redis.latency_ms)} · {h.redis.detail}")
    with c2:
        st.markdown(f"**Store** {_BADGE[h.store.ok]}")
        st.caption(f"{_ms(h.store.latency_ms)} · {h.store.detail}")
    with c3:
        t = h.ticker
        if t is not None:
            st.markdown(f"**Ticker** {_LEVEL[t.level]}")
            age = "—" if t.tick_age_s is None else f"{t.tick_age_s:.1f} s"
            st.caption(f"tick age {age} · {qty(t.subscribed)} subscribed · {t.reconnects} reconnects")
    with c4:
        if h.token is not None:
            st.markdown(f"**Kite token** {_BADGE[h.token.ok]}")
            expiry = f" · expires {fmt_ist(h.token.expires_at)}" if h.token.expires_at else ""
            st.caption(f"{h.token.state} ({h.token.market}){expiry}")
        elif h.token_error:
            st.markdown("**Kite token** :gray-badge[Unknown]")
            st.caption(h.token_error)


def _tables(h, now: datetime) -> None:
    st.subheader("Workers")
    if h.workers_error:
        st.caption(h.workers_error)
    elif not h.workers:
        st.info("No worker heartbeat: start `dramatiq workers.actors` (the Procfile's `worker`).")
    else:
        st.dataframe(frame_for_display(pd.DataFrame([{
            "worker": f"{w.host}:{w.pid}", "queues": ", ".join(w.queues), "threads": w.threads,
            "in flight": w.in_flight, "processed": w.processed, "failed": w.failed,
            "last actor": w.last_actor, "last beat": _age(w.beat_at, now), "up since": fmt_ist(w.started_at),
        } for w in h.workers]), _COUNTS), hide_index=True, width="stretch", key="system_workers")

    st.subheader("Queues")
    if h.queues_error:
        st.caption(h.queues_error)
    else:
        st.dataframe(frame_for_display(pd.DataFrame([{"queue": q.queue, "ready": q.ready, "in flight": q.in_flight,
                                                      "waiting to retry": q.delayed, "failed": q.dead}
                                                     for q in h.queues]), _COUNTS),
                     hide_index=True, width="stretch", key="system_queues")

    st.subheader("Scheduled jobs (clock)")
    if h.clock_error:
        st.caption(h.clock_error)
    elif not h.clock_runs:
        st.info("The clock has not sent anything yet: run exactly one `python -m workers.clock`.")
    else:
        st.dataframe(frame_for_display(pd.DataFrame([{"job": r.job, "last run": fmt_ist(r.at), "ago": _age(r.at, now),
                                                      "status": r.status, "message": r.message_id or r.error}
                                                     for r in h.clock_runs]), {}),
                     hide_index=True, width="stretch", key="system_clock")


def _failed_messages(h) -> None:
    st.subheader("Failed messages")
    failed = [q for q in h.queues if q.dead]
    if not failed:
        st.caption("No failed messages.")
    for q in failed:
        st.markdown(f"**{q.queue}** · {q.dead} failed")
        try:
            letters = ops.dead_letters(q.queue, limit=20)
        except Exception as exc:  # noqa: BLE001
            st.caption(f"could not read: {exc}")
            continue
        for d in letters:
            label = f"{d.actor}({d.arguments})"
            a, b, c = st.columns([6, 1, 1])
            a.markdown(f"`{label}` · failed {fmt_ist(d.failed_at)} after {d.retries} retries"
                       + (f" · trace `{d.trace_id}`" if d.trace_id else "") + f"  \n{d.error}")
            if b.button("Retry", key=f"system_retry_{d.redis_id}"):
                st.session_state["system_pending"] = ("retry", q.queue, d.redis_id, label)
                st.rerun(scope="app")
            if c.button("Discard", key=f"system_discard_{d.redis_id}"):
                st.session_state["system_pending"] = ("discard", q.queue, d.redis_id, label)
                st.rerun(scope="app")


def _morning_backfill() -> None:
    """The newest morning backfill (``app.market.history_warmup``): children done / total,
    failures listed with their messages."""
    st.subheader("Morning backfill")
    try:
        p = latest_morning(svc.store.jobs)
    except Exception as exc:  # noqa: BLE001 - store down: the probes above say so
        st.caption(f"could not read the morning backfill: {exc}")
        return
    if p is None:
        st.info("No morning backfill yet: the clock sends one at 08:30 IST on trading days and when it starts.")
        return
    st.progress(p.fraction, text=f"Morning backfill {p.day:%d %b %Y}: {p.summary()}")
    if p.failures:
        st.warning(f"{qty(p.failed)} backfill(s) failed; the next run (or a clock restart) queues them again.")
        st.dataframe(frame_for_display(pd.DataFrame([{"backfill": what, "error": msg}
                                                     for what, msg in p.failures[:100]]), {}),
                     hide_index=True, width="stretch", key="system_morning_failures")
    for note in p.notes[:20]:
        st.caption(note)


@st.fragment(run_every="2s")
def live() -> None:
    now = datetime.now(UTC)
    h = ops.snapshot(now)
    st.markdown(f"**Overall:** {_LEVEL[h.level]} · checked {fmt_ist(h.checked_at, with_date=False)}")
    for level, msg in h.problems:
        (st.error if level == "error" else st.warning)(msg)
    if h.calendar is not None:
        st.caption(f"NSE calendar: published holiday list to {ist_date(h.calendar.published_until)}; "
                   f"holidays known (estimated after that) to {ist_date(h.calendar.covered_until)}")
    _probes(h)
    _tables(h, now)
    _morning_backfill()
    _failed_messages(h)


live()
