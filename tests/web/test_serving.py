"""How the dashboard is served: offline, with a strict CSP, only its own files; whoami by role."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Route, expect

from tests.web.support import Rig, sign_in


def test_the_page_and_its_files_come_from_the_rig_with_a_strict_policy(rig: Rig) -> None:
    r = httpx.get(rig.base + "/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    js = httpx.get(rig.base + "/ui/js/main.js")
    assert js.status_code == 200
    assert js.headers["content-type"].startswith("text/javascript")
    assert httpx.head(rig.base + "/").status_code == 200


@pytest.mark.parametrize("path", [
    "/ui/../api/routes/web.py",
    "/ui/%2e%2e/%2e%2e/config.py",
    "/ui/js/../../../pyproject.toml",
    "/ui/.hidden",
    "/ui/js/nope.js",
    "/ui/",
])
def test_nothing_but_the_dashboard_files_is_served(rig: Rig, path: str) -> None:
    r = httpx.get(rig.base + path, follow_redirects=False)
    assert r.status_code in (307, 404), (path, r.status_code, r.text[:200])
    assert "import" not in r.text and "[project]" not in r.text


def test_whoami_tells_each_role_its_pages(rig: Rig) -> None:
    pages = {}
    for role in ("viewer", "clinician", "installer", "admin"):
        with rig.client(role) as c:
            me = c.get("/api/v1/whoami").json()
        pages[role] = me["pages"]
        assert me["role"] == role
        assert [m["name"] for m in me["mounts"]] == ["bar_a_left", "bar_a_right", "bar_b_left",
                                                     "bar_b_right"]
        assert me["caution_fraction"] == 0.8
    assert pages["viewer"] == ["live"]
    assert "clients" in pages["clinician"] and "calibration" not in pages["clinician"]
    assert "calibration" in pages["installer"] and "clients" not in pages["installer"]
    assert httpx.get(rig.base + "/api/v1/whoami").status_code == 401


def test_every_page_works_with_no_internet(browser: Browser, rig: Rig) -> None:
    """A clinic's Pi is offline: no page may ask any other host for anything."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    elsewhere: list[str] = []
    local = urlsplit(rig.base).netloc

    def guard(route: Route) -> None:
        if urlsplit(route.request.url).netloc != local:
            elsewhere.append(route.request.url)
            route.abort()
        else:
            route.continue_()

    ctx.route("**/*", guard)
    try:
        sign_in(page, rig, "admin")
        for name in ("live", "clients", "sessions", "calibration", "diagnostics"):
            page.goto(f"{rig.base}/#/{name}")
            expect(page.locator("main h1").first).to_be_visible()
            page.wait_for_timeout(700)  # the page's own fetches after its heading
    finally:
        ctx.close()
    assert elsewhere == []


def test_asset_paths_cannot_leave_the_web_folder() -> None:
    from rigctl.api.routes.web import WEB_DIR, resolve_asset

    assert resolve_asset("js/main.js") == WEB_DIR / "js" / "main.js"
    assert resolve_asset("app.css") == WEB_DIR / "app.css"
    for bad in ("../api/routes/web.py", "js/../../config.py", "..", ".", "", "js",
                "/etc/passwd", "js/%2e%2e/x.js"):
        assert resolve_asset(bad) is None, bad
