"""The ``api`` process: PaperDesk's REST API under ``/api/v1`` (FastAPI on uvicorn).

Built on the same services as the pages (``app.container.services()``): every rule lives once,
in the service the page calls. Authentication is a per-user API key (``app.ops.api_keys``) with
scopes ``read`` / ``propose`` / ``trade`` / ``admin``; every write is audited with the key's
owner. OpenAPI: ``/api/v1/docs`` (Swagger UI) and ``/api/v1/openapi.json``.
"""
