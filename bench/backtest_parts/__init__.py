"""Sections of ``bench/backtest.py``, each a function returning its printed lines."""
