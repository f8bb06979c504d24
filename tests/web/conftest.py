"""Browser tests of the dashboard: a real ``rigctl run`` on the sim rig, Debian's chromium.

One ``rigctl run`` (core + API processes, the demo session) serves the whole
package on a free loopback port with its own state directory; tokens come
from ``rigctl token create``. Playwright drives /usr/bin/chromium headless
(``playwright install`` is never run: the browser is the distribution's).
Screenshots go to tests/artifacts/web/ (gitignored).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.support.rig import free_port
from tests.web.support import CHROMIUM, CHROMIUM_ARGS, Rig, make_token, stop


@pytest.fixture(scope="package")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    state = tmp_path_factory.mktemp("web-state")
    tokens = {role: make_token(state, role)
              for role in ("admin", "clinician", "installer", "viewer")}
    port = free_port()
    log = (state / "run.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "rigctl", "run", "--state-dir", str(state),
                             "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"rigctl run exited: {(state / 'run.log').read_text()}")
            with contextlib.suppress(httpx.HTTPError):
                h = httpx.get(f"{base}/api/v1/health", timeout=1.0).json()
                if h["core_up"]:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"rigctl run did not come up: "
                                   f"{(state / 'run.log').read_text()}")
            time.sleep(0.1)
        r = Rig(base, state, tokens, proc)
        # the demo session is started by rigctl run just after health turns ok
        deadline = time.monotonic() + 15
        while r.status()["session_id"] is None and time.monotonic() < deadline:
            time.sleep(0.1)
        yield r
    finally:
        stop(proc)
        log.close()


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does it)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    try:
        yield pg
    finally:
        ctx.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
