"""Fault-tolerance suite (``pytest -m faults``): real Redis, PostgreSQL, workers, ticker."""
