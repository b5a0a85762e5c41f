"""The only bridge between Streamlit and the service layer.

``get_services()`` returns one service graph per server process (``st.cache_resource``), shared
by every session: treat it as read-only. Tests clear it with ``st.cache_resource.clear()`` after
``app.container.reset_services()``.
"""

from __future__ import annotations

import streamlit as st

from app.container import Services, services
from app.market.watch_view import WatchView


@st.cache_resource
def get_services() -> Services:
    """One service graph per server process, shared by all sessions: treat it as read-only."""
    return services()


def get_watch_view() -> WatchView:
    """The Home page's read model (the container's, one per process)."""
    return get_services().watch_view
