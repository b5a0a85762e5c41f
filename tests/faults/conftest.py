"""Registers the ``faults`` marker for this folder (``--strict-markers`` is on); the lead may
move the line into ``pyproject.toml``'s ``markers``."""


def pytest_configure(config):
    config.addinivalue_line("markers", "faults: fault-tolerance suite on real Redis, PostgreSQL, workers, ticker")
