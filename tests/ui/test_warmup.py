"""The web's warm-up (app.ui.warmup) and when app.ui.web starts it."""

import importlib

from app.ui import warmup
from app.ui.web import ROOT, serves_desk


def test_page_modules_are_every_import_of_the_pages_and_they_import():
    names = warmup.page_modules()
    assert "plotly.graph_objects" in names  # Sectors, Scanner, …
    assert "app.ui.order_ticket" in names  # Orders & Positions
    assert "__future__" not in names and names == sorted(set(names))
    for name in names:
        importlib.import_module(name)


def test_page_modules_reads_relative_imports_out(tmp_path):
    (tmp_path / "pages").mkdir()
    (tmp_path / "streamlit_app.py").write_text("import json\nfrom . import x\n")
    (tmp_path / "pages" / "a.py").write_text("from os import path\nimport csv, zlib\n")
    assert warmup.page_modules(tmp_path) == ["csv", "json", "os", "zlib"]


def test_the_warm_up_starts_only_for_the_desk_entrypoints(tmp_path):
    assert serves_desk(["streamlit", "run", "web_app.py", "--server.port", "8501"])
    assert serves_desk(["streamlit", "run", str(ROOT / "streamlit_app.py")])
    assert not serves_desk(["streamlit", "run", str(tmp_path / "peer.py")])
    assert not serves_desk(["streamlit", "run"])

