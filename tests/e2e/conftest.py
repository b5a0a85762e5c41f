"""Fixtures of the end-to-end suite: where its screenshots go, and the desk most tests share.

A desk start (``python -m app.launcher``: web, worker, ticker, clock, replay, api) and its
morning backfill cost a minute or more on a busy machine, so the tests that tolerate each
other's state run on one ``shared_desk``. A test keeps a private desk (``running_desk``) when
it needs a pristine or differently configured one:

- ``test_sign_in_e2e``: ``DESK_AUTH=on``, a different desk;
- ``test_live_books_e2e``: its watcher tab starts from "No orders yet", "No trades yet" and
  ₹0.00 charges, so no other test may have traded on its desk;
- ``test_approve_e2e``: the Risk page must count exactly its one open position ("1 / 5").

On the shared desk each test opens its own browser (a fresh Streamlit session), trades its own
symbols and checks its own order ids, approvals and webhook secret.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.desk import SHARED_ENV, RunningDesk, running_desk


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory) -> Path:
    """The test run's screenshot folder: ``$DESK_TEST_OUTPUT/screenshots`` when set, else
    ``screenshots/`` under pytest's base temporary folder of this run (printed at the end)."""
    base = os.environ.get("DESK_TEST_OUTPUT")
    folder = (Path(base) if base else tmp_path_factory.getbasetemp()) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="package")
def shared_desk(tmp_path_factory) -> Iterator[RunningDesk]:
    """One running desk (``SHARED_ENV``) for this worker's end-to-end tests that tolerate each
    other's state. Package scope: it stops after the last test of ``tests/e2e`` (they run
    together, see ``tests/conftest.py``), not at the end of the session."""
    with running_desk(tmp_path_factory.mktemp("shared-desk") / "state", extra_env=SHARED_ENV) as desk:
        yield desk
