"""The System page's health model warns 30 days before NSE's published holiday list ends
(``OperationsService.snapshot`` on a real Redis and the real calendar)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import redis

from app.adapters.calendar_source import load_nse_calendar
from app.adapters.queue import NAMESPACE
from app.ops.operations import OperationsService

# 2026-12-02 10:00 IST: 29 days before the published list ends on 2026-12-31.
DEC_2 = datetime(2026, 12, 2, 4, 30, tzinfo=UTC)
NOV_30 = datetime(2026, 11, 30, 4, 30, tzinfo=UTC)


@pytest.fixture()
def client(redis_url):
    c = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5)
    yield c
    c.close()


def calendar_warnings(health) -> list[str]:
    return [msg for level, msg in health.problems if level == "warning" and "NSE holiday calendar" in msg]


def test_snapshot_warns_29_days_before_the_published_list_ends_and_says_estimated(client):
    """Source: NSE publishes next year's holiday circular in December (indian-market.md §1);
    the 2027 dates are the holidays package's estimates (holidays 0.109 XNSE)."""
    health = OperationsService(client, None, namespace=NAMESPACE, calendar=load_nse_calendar).snapshot(DEC_2)
    assert health.calendar.days_left == 29 and health.calendar.warn
    (msg,) = calendar_warnings(health)
    assert "the published list ends on 2026-12-31 (in 29 day(s))" in msg
    assert "9 in 2027" in msg and "are estimated, not NSE's published list" in msg
    assert "holidays 0.109 financial_holidays('XNSE')" in msg
    assert "app/data/nse/calendar/nse_holidays_overrides.csv" in msg


def test_snapshot_has_no_calendar_warning_31_days_before(client):
    health = OperationsService(client, None, namespace=NAMESPACE, calendar=load_nse_calendar()).snapshot(NOV_30)
    assert health.calendar.days_left == 31 and not health.calendar.warn
    assert calendar_warnings(health) == []


def test_snapshot_with_nse_2027_circular_in_the_override_file_does_not_warn(client, tmp_path):
    path = tmp_path / "overrides.csv"
    path.write_text("date,name,source,status\n2027-01-26,Republic Day,NSE circular NSE/CMTR/00001,published\n",
                    encoding="utf-8")
    ops = OperationsService(client, None, namespace=NAMESPACE, calendar=lambda: load_nse_calendar(path))
    health = ops.snapshot(DEC_2)
    assert health.calendar.published_until.isoformat() == "2027-12-31"
    assert calendar_warnings(health) == []


def test_snapshot_reports_a_calendar_that_cannot_load_as_an_error(client, tmp_path):
    path = tmp_path / "broken.csv"
    path.write_text("date,name,source,status\n2027-01-30,Sat,x,estimated\n", encoding="utf-8")
    ops = OperationsService(client, None, namespace=NAMESPACE, calendar=lambda: load_nse_calendar(path))
    health = ops.snapshot(DEC_2)
    assert health.calendar is None
    assert ("error", health.calendar_error) in health.problems
    assert "is a Saturday" in health.calendar_error


def test_snapshot_without_a_calendar_has_no_calendar_part(client):
    health = OperationsService(client, None, namespace=NAMESPACE).snapshot(DEC_2)
    assert health.calendar is None and calendar_warnings(health) == []
