"""The web process's ASGI app: Streamlit serving ``streamlit_app.py`` plus the desk's cookie routes.

``python -m app.ui.web run web_app.py [streamlit options]`` (the Procfile's web): ``streamlit
run`` finds the ``st.App`` below and serves it on uvicorn, with the sign-in cookie routes of
``app.ui.session_routes`` on the same origin as the pages (a cookie set by the API process, on
another port, would not reach them).
"""

import streamlit as st

from app.ui.session_routes import session_routes


def _auth():
    from app.container import services

    return services().auth


app = st.App("streamlit_app.py", routes=session_routes(_auth))
