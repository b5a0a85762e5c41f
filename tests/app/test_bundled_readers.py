"""Every read of the bundled files (``app/data/nse``) goes through one adapter.

Outside ``app/adapters/`` (the bundled-data loaders ``nse_data``/``bundled_market``, the replay
server, the calendar source) no module names ``DATA_DIR``, a bundled file, or reads a CSV
itself. The scan is of the source, so a new reader anywhere in app/, workers/, pages/ or core/
fails this test with the file and line.
"""

from __future__ import annotations

import ast
import re
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
    # a download's suggested name (st.download_button(file_name="trades.csv")) is written, not read
    downloads = {id(n) for kw in ast.walk(tree) if isinstance(kw, ast.keyword) and kw.arg == "file_name"
                 for n in ast.walk(kw.value)}
    found = []
    for node in ast.walk(tree):
        if id(node) in docstrings or id(node) in downloads:
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


# ---- no bundled BAR reads outside the replay server (issue 12) --------------------------------
#
# The bundled bar files (``daily_*``, ``minute_*``, ``index_daily_*`` in app/data/nse) are the
# replay server's history: the desk sees bars only through the market (``MarketDataService``:
# the store, filled from Kite or the replay). Reference lists (instruments seed, calendar,
# index constituents, margins, price bands) stay readable through their adapters.

BAR_FILE = re.compile(r"(?:^|[/\\])(?:daily|minute|index_daily)_[^/\\]*\.(?:csv|csv\.gz|parquet|json\.gz)$")
#: Modules that may read the bundled bar files (they serve or load the replay's history).
BAR_READERS = {
    "app/adapters/nse_data.py": "the typed loaders the replay server uses",
    "workers/replay.py": "starts the replay server (its recorded sessions)",
}
BAR_READER_DIRS = {
    "app/adapters/replay/": "the replay server: its Kite historical endpoint serves these bars",
    "app/data/": "the scripts that build the bundled files themselves",
}
#: Offline builders of bundled files (not run by the desk).
BAR_BUILDERS = {
    "tools/build_replay_history.py": "builds the replay server's daily / 1-minute history files",
    "tools/build_margins.py": "derives the bundled margin list from NIFTY 500 closes (offline)",
}
#: Modules whose bar names (constants naming a bar file, and what reads them) are the loaders.
LOADER_MODULES = {"app.adapters.nse_data": "app/adapters/nse_data.py",
                  "app.adapters.bundled_market": "app/adapters/bundled_market.py"}
#: Layers that must not import ``nse_data`` at all (only the instruments seed may, for the dump).
NO_NSE_DATA = ("app/research/", "app/market/", "app/ui/", "pages/")
NSE_DATA_ALLOWED = {"app/market/instruments.py": {"INSTRUMENTS_FILE", "instrument_records", "load_instruments"}}
#: Not yet migrated to MarketDataService (issue 12): offender -> why it is still allowed.
TODO_BAR_READERS: dict[str, str] = {}


def _defined_names(tree: ast.Module) -> dict[str, ast.AST]:
    out: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out[node.name] = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                if isinstance(target, ast.Name):
                    out[target.id] = node
    return out


def _bar_names(rel: str) -> set[str]:
    """Top-level names of a loader module that name a bundled bar file, or use such a name
    (transitively: a function reading ``MINUTE_FILE``, a class calling that function …)."""
    tree = ast.parse((ROOT / rel).read_text())
    defs = _defined_names(tree)
    imported = {a.asname or a.name for n in tree.body if isinstance(n, ast.ImportFrom)
                and n.module in LOADER_MODULES for a in n.names}
    bar = {name for name, node in defs.items()
           if any(isinstance(c, ast.Constant) and isinstance(c.value, str) and BAR_FILE.search(c.value)
                  for c in ast.walk(node))}
    bar |= {name for name in imported if name in _bar_names(LOADER_MODULES[_source_of(tree, name)])}
    while True:
        more = {name for name, node in defs.items() if name not in bar
                and any(isinstance(c, ast.Name) and c.id in bar for c in ast.walk(node))}
        if not more:
            return bar
        bar |= more


def _source_of(tree: ast.Module, name: str) -> str:
    for n in tree.body:
        if isinstance(n, ast.ImportFrom) and n.module in LOADER_MODULES and any((a.asname or a.name) == name for a in n.names):
            return n.module
    raise KeyError(name)


BAR_NAMES = {mod: frozenset(_bar_names(rel)) for mod, rel in LOADER_MODULES.items()}


def _layer(rel: str) -> str | None:
    return next((layer for layer in NO_NSE_DATA if rel.startswith(layer)), None)


def _bar_offences(path: Path, rel: str) -> list[str]:
    """Reads of bundled bar files in one module: a bar file's name, a bar loader or bar-file
    constant of ``nse_data``/``bundled_market`` (imported or as ``module.name``), and — in the
    research, market, UI and page layers — any import of ``nse_data``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    layer_bans_nse_data = _layer(rel) is not None
    aliases: dict[str, str] = {}  # local name -> loader module
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in LOADER_MODULES:
            for a in node.names:
                if a.name in BAR_NAMES[node.module]:
                    found.append(f"{node.lineno}: imports bar loader {node.module}.{a.name}")
                if (layer_bans_nse_data and node.module == "app.adapters.nse_data"
                        and a.name not in NSE_DATA_ALLOWED.get(rel, set())):
                    found.append(f"{node.lineno}: imports app.adapters.nse_data.{a.name} in {_layer(rel)} "
                                 f"(bars come from MarketDataService)")
        elif isinstance(node, ast.ImportFrom) and node.module == "app.adapters":
            for a in node.names:
                mod = f"app.adapters.{a.name}"
                if mod in LOADER_MODULES:
                    aliases[a.asname or a.name] = mod
                    if layer_bans_nse_data and a.name == "nse_data":
                        found.append(f"{node.lineno}: imports app.adapters.nse_data in {_layer(rel)} "
                                     f"(bars come from MarketDataService)")
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name in LOADER_MODULES:
                    aliases[a.asname or a.name] = a.name
                    if layer_bans_nse_data and a.name == "app.adapters.nse_data":
                        found.append(f"{node.lineno}: imports app.adapters.nse_data in {_layer(rel)} "
                                     f"(bars come from MarketDataService)")
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
              and BAR_FILE.search(node.value)):
            found.append(f"{node.lineno}: names bundled bar file {node.value!r}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            base = node.value
            name = (base.id if isinstance(base, ast.Name) else
                    ast.unparse(base) if isinstance(base, ast.Attribute) else None)
            mod = aliases.get(name) if name in aliases else (name if name in LOADER_MODULES else None)
            if mod and node.attr in BAR_NAMES[mod]:
                found.append(f"{node.lineno}: uses bar loader {mod}.{node.attr}")
    return found


def _bar_sources() -> list:
    out = []
    for top in ("app", "workers", "pages", "core", "tools"):
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel in BAR_READERS or rel in BAR_BUILDERS or rel.startswith(tuple(BAR_READER_DIRS)):
                continue
            out.append(pytest.param(path, rel, id=rel))
    for page in sorted(ROOT.glob("*.py")):
        out.append(pytest.param(page, page.name, id=page.name))
    return out


def test_bar_names_are_found_in_the_loaders():
    """The derived set holds the known loaders, so the check below can fail."""
    assert {"MINUTE_FILE", "DAILY_FILE", "INDEX_DAILY_FILE", "load_minute_bars", "load_daily", "minute_bars_for",
            "recorded_sessions", "load_replay_daily", "EXTRA_MINUTE_FILE"} <= BAR_NAMES["app.adapters.nse_data"]
    assert not {"load_instruments", "INSTRUMENTS_FILE", "nifty500_industries"} & BAR_NAMES["app.adapters.nse_data"]
    assert not {"index_members", "nse_list", "margin_table", "nifty500_constituents", "INDEX_UNIVERSES",
                "NIFTY500_LIST"} & BAR_NAMES["app.adapters.bundled_market"]


@pytest.mark.parametrize("path,rel", _bar_sources())
def test_no_bundled_bar_read_outside_the_replay_server(path, rel):
    found = _bar_offences(path, rel)
    if rel in TODO_BAR_READERS:
        if found:
            pytest.xfail(f"{rel} still reads bundled bars ({TODO_BAR_READERS[rel]}): {found}")
        pytest.fail(f"{rel} no longer reads bundled bars: drop it from TODO_BAR_READERS")
    assert found == [], (f"{rel} reads the bundled bar files of app/data/nse; bars come from the market "
                         f"(app.market.history.MarketDataService: ohlcv / panel), only the replay server "
                         f"reads these files: {found}")


def test_the_bar_check_catches_readers(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from app.adapters.nse_data import load_minute_bars, load_instruments\n"
                   "from app.adapters import nse_data as nd\n"
                   "import app.adapters.nse_data\n"
                   "x = nd.minute_bars_for('INFY')\ny = app.adapters.nse_data.load_daily()\n"
                   "z = 'app/data/nse/index_daily_nifty50_2015-01_2025-12.csv'\n")
    found = _bar_offences(bad, "app/research/bad.py")
    assert any("load_minute_bars" in f for f in found)
    assert any("minute_bars_for" in f for f in found)
    assert any("load_daily" in f for f in found)
    assert any("index_daily_nifty50" in f for f in found)
    assert sum("in app/research/ " in f for f in found) == 4  # both names of the from-import, both module imports  # both names of the from-import
    seed = tmp_path / "seed.py"
    seed.write_text("from app.adapters.nse_data import INSTRUMENTS_FILE, load_instruments\n")
    assert _bar_offences(seed, "app/market/instruments.py") == []
    assert _bar_offences(seed, "app/market/other.py") != []
    assert _bar_offences(seed, "app/container.py") == []
