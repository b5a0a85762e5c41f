"""The Swagger UI page at ``/api/v1/docs`` works offline: every asset it loads is served by the
api process itself (``swagger-ui-bundle``), none from a CDN."""

from __future__ import annotations

import re

import pytest

from app.api.server import DOCS_ASSETS


@pytest.mark.parametrize("api", ["sqlite"], indirect=True)  # the page needs no store: one api process
def test_docs_page_loads_only_local_assets(api) -> None:
    page = api.client.get("/docs")
    assert page.status_code == 200 and "SwaggerUIBundle" in page.text
    urls = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert urls and all(u.startswith(f"{DOCS_ASSETS}/") for u in urls), urls  # no http(s):// CDN URL
    assert "cdn.jsdelivr" not in page.text and "unpkg" not in page.text
    js = next(u for u in urls if u.endswith(".js"))
    asset = api.client.get(api.url + js)
    assert asset.status_code == 200 and "javascript" in asset.headers["content-type"]
    assert b"SwaggerUIBundle" in asset.content  # the bundle itself, not an error page
    assert api.client.get(api.url + f"{DOCS_ASSETS}/swagger-ui.css").status_code == 200
