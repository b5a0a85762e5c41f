"""Replay-server fixtures (owned by the replay work)."""
