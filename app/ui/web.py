"""The web process: ``python -m app.ui.web run web_app.py [streamlit options]``.

``web_app.py`` is the ``st.App`` that serves ``streamlit_app.py`` with the sign-in cookie
routes (``app.ui.session_routes``); ``run streamlit_app.py`` still serves the pages alone.

``streamlit run`` with Streamlit's legacy ``pages/`` mode switched off. PaperDesk keeps its
pages in ``pages/`` (the layout is fixed) and declares them with ``st.navigation`` in
``streamlit_app.py``. Streamlit treats a ``pages/`` folder as the old page list until some
script run has called ``st.navigation``, so the first request after a start that names a
page (``/orders``, a bookmark) ran that page alone: no entrypoint, no sidebar, the raw file
names as navigation. ``PagesManager.uses_pages_directory`` is the flag Streamlit keeps for
that legacy mode and clears itself once ``st.navigation`` runs; clearing it before the
server starts sends every run, the first included, through the entrypoint.

Serving one of the desk's entrypoints (the repo root's ``web_app.py`` or ``streamlit_app.py``),
it also starts the web's warm-up (``app.ui.warmup``: page imports, services, the first reads of
Sectors, Chart and Scanner) in a background thread, so a page's first visit does not pay them.
"""

from __future__ import annotations

import sys
from pathlib import Path

from streamlit.runtime.pages_manager import PagesManager
from streamlit.web.cli import main as streamlit_cli

ROOT = Path(__file__).resolve().parents[2]
DESK_ENTRYPOINTS = ("web_app.py", "streamlit_app.py")


def serves_desk(argv: list[str]) -> bool:
    """True when ``argv`` (``run <script> …``) runs one of the repo root's desk entrypoints."""
    scripts = [a for a in argv[1:] if a.endswith(".py")]
    return bool(scripts) and Path(scripts[0]).resolve() in {(ROOT / name).resolve() for name in DESK_ENTRYPOINTS}


def main() -> None:
    """Run Streamlit's CLI with the arguments given (``run web_app.py …``); never returns."""
    PagesManager.uses_pages_directory = False
    if serves_desk(sys.argv):
        from app.ui import warmup

        warmup.start()
    streamlit_cli(prog_name="streamlit")


if __name__ == "__main__":
    main()
