"""The dashboard pages (one thin Streamlit script each; ``streamlit_app.py`` routes to them).

A package only so import-linter can check what the pages import; Streamlit runs each file by
path, never imports it.
"""
