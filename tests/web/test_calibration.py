"""The installer's calibration page in a browser, on the sim rig (weights "hung" by scenarios)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from rigctl.calibration.simhang import hang_csv
from tests.web.support import MOUNTS, Rig, shot, sign_in


def test_a_calibration_from_tare_to_commit_and_verify(page: Page, rig: Rig) -> None:
    with rig.client() as c:  # calibration is refused while a session runs
        for s in c.get("/api/v1/sessions").json():
            if s["status"] == "active":
                c.post(f"/api/v1/sessions/{s['id']}/stop").raise_for_status()
    now: dict[str, float] = {}

    def hang(loads: dict[str, float]) -> None:
        rig.play(hang_csv(MOUNTS, loads, start_kg=now))
        now.clear()
        now.update(loads)

    hang({})  # the bars empty
    sign_in(page, rig, "admin")
    page.get_by_role("link", name="Calibration").click()
    expect(page.get_by_test_id("calibration-in-force")).to_be_visible()
    progress = page.get_by_role("status").filter(has_text=re.compile("Tare|Point|Commit"))

    page.get_by_role("button", name="Tare (start a new calibration)").click()
    expect(progress).to_have_text("Tare: done.", timeout=20_000)
    # nothing to commit yet: the page says why
    expect(page.get_by_test_id("commit-form")).to_contain_text("Not ready yet")

    form = page.get_by_test_id("point-form")
    for bar in ("a", "b"):
        for kg in (20.0, 40.0):
            hang({m: kg / 2 for m in MOUNTS if m.startswith(f"bar_{bar}_")})
            form.get_by_label("Hung on").select_option(f"bar:{bar}")
            form.get_by_label("Known weight (kg)").fill(f"{kg:g}")
            form.get_by_role("button", name="Add point").click()
            expect(progress).to_have_text(f"Point on bar {bar}: done.", timeout=20_000)
    for m in MOUNTS:  # the tare and two weights per mount, with the fitted line
        plot = page.get_by_test_id(f"fit-{m}")
        expect(plot.locator("svg")).to_have_attribute("data-points", "3")
        expect(plot.locator("line.fitline")).to_have_count(1)
        expect(plot).to_contain_text("counts/kg")
    expect(page.get_by_test_id("commit-form")).to_contain_text("The fit passes the checks")
    shot(page, "calibration")

    commit = page.get_by_test_id("commit-form")
    commit.get_by_label("Your name").fill("Web Test Installer")
    commit.get_by_role("button", name="Commit calibration").click()
    expect(progress).to_have_text("Commit: done.", timeout=20_000)
    expect(page.get_by_role("cell", name="Web Test Installer")).to_be_visible()

    hang({"bar_a_left": 15.0})
    verify = page.get_by_test_id("verify-form")
    verify.get_by_label("Known weight (kg)").fill("15")
    verify.get_by_label("On mount").select_option("bar_a_left")
    verify.get_by_role("button", name="Verify").click()
    result = page.get_by_test_id("verify-result")
    expect(result).to_contain_text("Within", timeout=20_000)
    expect(result).to_contain_text(re.compile(r"bar_a_left: reads 1[45]\.\d\d kg"))
    hang({})
