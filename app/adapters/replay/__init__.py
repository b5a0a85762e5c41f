"""The replay server: a local market speaking Kite Connect v3 over recorded real NSE data.

``server.create_app(ReplayConfig(...))`` builds the Starlette app (REST at ``/``, ticker at
``/ws``); ``workers.replay`` runs it. See ``docs/replay.md`` for what is real and derived.
"""
