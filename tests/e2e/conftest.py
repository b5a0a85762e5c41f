"""Fixtures of the end-to-end suite: where its screenshots go."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory) -> Path:
    """The test run's screenshot folder: ``$DESK_TEST_OUTPUT/screenshots`` when set, else
    ``screenshots/`` under pytest's base temporary folder of this run (printed at the end)."""
    base = os.environ.get("DESK_TEST_OUTPUT")
    folder = (Path(base) if base else tmp_path_factory.getbasetemp()) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder

