"""The live view reconnects by itself when the API process restarts (a Pi's systemd does that).

Here core and API run as separate processes (as the two systemd units do), so
the API can be stopped and started again under the open page.
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
from playwright.sync_api import Page, expect

from tests.support.rig import free_port
from tests.web.support import make_token, stop


class SplitRig:
    def __init__(self, state: Path) -> None:
        self.state = state
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.viewer = make_token(state, "viewer")
        self.core = subprocess.Popen([sys.executable, "-m", "rigctl", "core", "--state-dir",
                                      str(state)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        self.api: subprocess.Popen[bytes] | None = None

    def start_api(self) -> None:
        self.api = subprocess.Popen([sys.executable, "-m", "rigctl", "api", "--state-dir",
                                     str(self.state), "--port", str(self.port)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base}/api/v1/health", timeout=1.0).json()["core_up"]:
                    return
            assert self.api.poll() is None, "rigctl api exited"
            time.sleep(0.1)
        raise RuntimeError("rigctl api did not come up with the core")

    def restart_core(self) -> None:
        stop(self.core)
        self.core = subprocess.Popen([sys.executable, "-m", "rigctl", "core", "--state-dir",
                                      str(self.state)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)

    def stop_api(self) -> None:
        if self.api is not None:
            stop(self.api)
            self.api = None


@pytest.fixture
def split_rig(tmp_path: Path) -> Iterator[SplitRig]:
    rig = SplitRig(tmp_path / "state")
    try:
        rig.start_api()
        yield rig
    finally:
        rig.stop_api()
        stop(rig.core)


def test_the_live_view_says_it_lost_the_rig_and_comes_back_by_itself(
        page: Page, split_rig: SplitRig) -> None:
    page.goto(split_rig.base + "/")
    page.get_by_label("Token").fill(split_rig.viewer)
    page.get_by_role("button", name="Sign in").click()
    gauge = page.get_by_test_id("gauge")
    expect(gauge).to_be_visible()
    expect(gauge).to_have_attribute("data-state", "idle")  # no session on a fresh core
    expect(page.get_by_test_id("banner")).to_have_count(0)

    split_rig.stop_api()
    lost = page.get_by_test_id("banner")
    expect(lost).to_have_text("! Connection to the rig lost - reconnecting. "
                              "The numbers below are not live.")
    expect(gauge).to_have_class("gauge-card stale")

    split_rig.start_api()  # nobody touches the page
    expect(page.get_by_test_id("banner")).to_have_count(0, timeout=15_000)
    expect(gauge).to_have_class("gauge-card")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_a_stopped_controller_is_named_in_a_banner_until_it_is_back(
        page: Page, split_rig: SplitRig) -> None:
    page.goto(split_rig.base + "/")
    page.get_by_label("Token").fill(split_rig.viewer)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("gauge")).to_be_visible()
    expect(page.get_by_test_id("banner")).to_have_count(0)

    stop(split_rig.core)
    banner = page.get_by_role("alert")
    expect(banner).to_contain_text("The rig controller is not running: no warnings on the "
                                   "bars until it is back.")
    split_rig.restart_core()
    expect(page.get_by_test_id("banner")).to_have_count(0, timeout=20_000)
    expect(page.get_by_test_id("gauge")).to_have_class("gauge-card")
