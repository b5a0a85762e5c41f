"""Every read of the bundled files (``app/data/nse``) goes through one adapter.

Outside ``app/adapters/`` (the bundled-data loaders ``nse_data``/``bundled_market``, the replay
server, the calendar source) no module names ``DATA_DIR``, a bundled file, or reads a CSV
itself. The scan is of the source, so a new reader anywhere in app/, workers/, pages/ or core/
fails this test with the file and line.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ALLOWED = {
    "app/adapters/nse_data.py", "app/adapters/bundled_market.py", "app/adapters/calendar_source.py",
    "app/settings.py",  # defines DATA_DIR
}
ALLOWED_DIRS = ("app/adapters/replay/", "app/data/")
FILE_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".json.gz")
READERS = {"read_csv", "read_parquet", "read_json", "read_table"}


def _offences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    found = []
    for node in ast.walk(tree):
        if id(node) in docstrings:
            continue
        if isinstance(node, ast.Name) and node.id == "DATA_DIR":
            found.append(f"{node.lineno}: DATA_DIR")
        elif isinstance(node, ast.alias) and node.name == "DATA_DIR":
            found.append("import of DATA_DIR")
        elif isinstance(node, ast.Attribute) and node.attr in READERS:
            found.append(f"{node.lineno}: {node.attr}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.endswith(FILE_SUFFIXES):
            found.append(f"{node.lineno}: path {node.value!r}")
    return found


def _sources() -> list[Path]:
    out = []
    for top in ("app", "workers", "pages", "core"):
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel in ALLOWED or rel.startswith(ALLOWED_DIRS):
                continue
            out.append(path)
    return out


def test_the_scan_sees_the_services_it_guards():
    rels = {p.relative_to(ROOT).as_posix() for p in _sources()}
    assert {"app/research/scanner.py", "app/research/sectors.py", "app/research/backtests.py"} <= rels


@pytest.mark.parametrize("path", _sources(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_bundled_file_read_outside_the_adapters(path):
    assert _offences(path) == [], f"{path.relative_to(ROOT)} reads bundled files itself; go through app.adapters"


def test_the_check_catches_a_reader(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import pandas as pd\nfrom app.settings import DATA_DIR\nx = pd.read_csv(DATA_DIR / 'a.csv')\n")
    assert len(_offences(bad)) == 4
