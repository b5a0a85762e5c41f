"""The System page lists the queues the desk's actors consume (``KNOWN_QUEUES``), even when empty."""

from __future__ import annotations

import ast
from pathlib import Path

from app.ops.operations import KNOWN_QUEUES

ROOT = Path(__file__).resolve().parents[2]


def _actor_queue_names() -> set[str]:
    """Every ``queue_name=`` of a ``@dramatiq.actor`` in ``workers/``, resolved to its string
    (a literal, or a module constant imported from app.*)."""
    import importlib

    names: set[str] = set()
    for path in (ROOT / "workers").glob("*.py"):
        tree = ast.parse(path.read_text())
        imported = {a.asname or a.name: node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                    and node.module for a in node.names}
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "queue_name":
                v = node.value
                if isinstance(v, ast.Constant):
                    names.add(v.value)
                elif isinstance(v, ast.Name):
                    names.add(getattr(importlib.import_module(imported[v.id]), v.id))
    return names


def test_known_queues_are_exactly_the_queues_actors_consume():
    assert _actor_queue_names() == set(KNOWN_QUEUES)
