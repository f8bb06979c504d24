"""Clinic pages in a real browser: clients with the API's field errors, a session from
start to its page in the history (chart, over-limit moments, CSV), roles."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Page, expect

from tests.web.support import STEADY_OK, Rig, scenario_csv, shot, sign_in


def test_a_bad_limit_shows_the_api_message_next_to_the_field_and_a_good_one_lists_the_client(
        page: Page, rig: Rig) -> None:
    name = f"Aiko {uuid.uuid4().hex[:6]}"
    sign_in(page, rig, "clinician")
    page.get_by_role("link", name="Clients").click()
    form = page.get_by_test_id("add-client")
    form.get_by_label("Name or pseudonym").fill(name)
    form.get_by_label("Foot-load limit (kg)").fill("500")
    form.get_by_role("button", name="Add client").click()

    limit_error = form.get_by_test_id("error-foot_load_limit_kg")
    expect(limit_error).to_have_text("500 kg is outside the allowed range 5-120 kg")
    expect(form.get_by_label("Foot-load limit (kg)")).to_have_attribute("aria-invalid", "true")
    expect(form.get_by_label("Foot-load limit (kg)")).to_be_focused()
    expect(page.get_by_role("cell", name=name)).to_have_count(0)

    # an empty name is the API's complaint about that field, not the limit's
    form.get_by_label("Name or pseudonym").fill("")
    form.get_by_label("Foot-load limit (kg)").fill("35")
    form.get_by_role("button", name="Add client").click()
    expect(form.get_by_test_id("error-display_name")).to_contain_text("at least 1 character")
    expect(limit_error).to_have_text("")

    form.get_by_label("Name or pseudonym").fill(name)
    form.get_by_label("Cleared for ashiatsu sessions").check()
    form.get_by_role("button", name="Add client").click()
    row = page.get_by_test_id("client-list").locator("tr", has_text=name)
    expect(row).to_contain_text("35.0 kg")
    expect(row).to_contain_text("cleared")
    expect(form.get_by_test_id("error-display_name")).to_have_text("")
    shot(page, "clients")

    # edit the limit: same validation, shown next to the field of the edit form
    row.get_by_role("button", name=f"Edit {name}").click()
    edit = page.get_by_test_id("edit-client")
    edit.get_by_label("Foot-load limit (kg)").fill("2")
    edit.get_by_role("button", name="Save").click()
    expect(edit.get_by_test_id("error-foot_load_limit_kg")).to_contain_text("outside the allowed")
    edit.get_by_label("Foot-load limit (kg)").fill("42.5")
    edit.get_by_role("button", name="Save").click()
    expect(row).to_contain_text("42.5 kg")


def test_a_session_started_and_stopped_appears_in_the_history_with_its_chart(
        page: Page, rig: Rig) -> None:
    name = f"Ben {uuid.uuid4().hex[:6]}"
    with rig.client("clinician") as c:
        c.post("/api/v1/clients", json={"display_name": name, "foot_load_limit_kg": 40,
                                        "cleared": True}).raise_for_status()
    rig.play(STEADY_OK)
    sign_in(page, rig, "clinician")
    page.get_by_role("link", name="Sessions").click()
    now = page.get_by_test_id("session-now")
    stop = page.get_by_test_id("stop-session")
    expect(now).to_contain_text(re.compile("Session running|Start a session"))
    if stop.count():  # the demo session (or an earlier test's) is running: stop it first
        stop.click()
    start = page.get_by_test_id("start-form")
    start.get_by_label("Client").select_option(label=f"{name} (limit 40.0 kg)")
    start.get_by_label("Therapist weight (kg)").fill("70")
    start.get_by_role("button", name="Start session").click()
    expect(now).to_contain_text("Session running")
    expect(now).to_contain_text(name)

    # one over-limit moment of about a second in the middle of the session
    rig.play(scenario_csv([(0, 12.0), (1.0, 12.0), (1.001, 5.0), (2.0, 5.0),
                           (2.001, 12.0), (60, 12.0)]))
    page.wait_for_timeout(3500)
    stop.click()
    expect(page.get_by_test_id("start-form")).to_be_visible()

    row = page.get_by_test_id("session-list").locator("tr", has_text=name).first
    expect(row).to_contain_text("stopped")
    row.get_by_role("link").click()
    summary = page.get_by_test_id("session-summary")
    expect(summary).to_contain_text(name)
    expect(page.get_by_test_id("time-over")).to_have_text(re.compile(r"^(0\.[5-9]|1\.\d) s$"))
    chart = page.get_by_test_id("session-chart")
    expect(chart).to_have_attribute("data-points", re.compile(r"^[1-9]\d+$"))
    expect(chart.locator("rect.span.over")).to_have_count(1)
    moments = page.get_by_test_id("over-moments").locator("li")
    expect(moments).to_have_count(1)
    expect(moments.first).to_contain_text("peak 5")
    shot(page, "session")

    with page.expect_download() as dl:
        page.get_by_test_id("download-csv").click()
    csv = open(dl.value.path(), encoding="utf-8").read().splitlines()  # noqa: SIM115
    assert csv[0].startswith("t_s,state,foot_load_kg,bar_load_kg,bar_a_left")
    assert any(",over," in line for line in csv[1:])
    assert dl.value.suggested_filename.endswith(".csv")


def test_a_viewer_sees_the_live_view_only(page: Page, rig: Rig) -> None:
    # keyboard only: the token field has focus, Enter signs in
    page.goto(rig.base + "/")
    expect(page.get_by_label("Token")).to_be_focused()
    page.keyboard.type(rig.tokens["viewer"])
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("gauge")).to_be_visible()
    nav = page.get_by_role("navigation", name="Pages")
    expect(nav.get_by_role("link")).to_have_text(["Live"])

    page.goto(rig.base + "/#/clients")
    expect(page.get_by_test_id("forbidden")).to_contain_text("your token is a viewer token")
    expect(page.get_by_test_id("client-list")).to_have_count(0)
    expect(page.get_by_test_id("add-client")).to_have_count(0)
    page.goto(rig.base + "/#/sessions")
    expect(page.get_by_test_id("forbidden")).to_be_visible()
    # and the server refuses the data itself, whatever the page shows
    status = page.evaluate("""async () => {
        const tok = sessionStorage.getItem('rigctl.token');
        const r = await fetch('/api/v1/clients', {headers: {Authorization: 'Bearer ' + tok}});
        return r.status;
    }""")
    assert status == 403


def test_an_installer_sees_diagnostics_per_mount(page: Page, rig: Rig) -> None:
    sign_in(page, rig, "installer")
    nav = page.get_by_role("navigation", name="Pages")
    expect(nav.get_by_role("link")).to_have_text(["Live", "Calibration", "Diagnostics"])
    nav.get_by_role("link", name="Diagnostics").click()
    for m in ("bar_a_left", "bar_a_right", "bar_b_left", "bar_b_right"):
        row = page.get_by_test_id(f"diag-{m}")
        expect(row).to_contain_text("ok")
        # the sim converts at 80 samples/s: the rate measured from the stream is shown
        expect(row).to_contain_text(re.compile(r"\d+\.\d /s"))
    expect(page.get_by_test_id("loop-rate")).to_contain_text("Hz")
    page.goto(rig.base + "/#/clients")
    expect(page.get_by_test_id("forbidden")).to_contain_text("installer token")


def test_a_therapist_weighs_in_from_the_bars_and_the_session_uses_that_weight(
        page: Page, rig: Rig) -> None:
    from rigctl.calibration.simhang import hang_csv

    name = f"Cleo {uuid.uuid4().hex[:6]}"
    therapist = f"Kai {uuid.uuid4().hex[:6]}"
    with rig.client("clinician") as c:
        c.post("/api/v1/clients", json={"display_name": name, "foot_load_limit_kg": 40,
                                        "cleared": True}).raise_for_status()
    sign_in(page, rig, "clinician")
    page.get_by_role("link", name="Sessions").click()
    now = page.get_by_test_id("session-now")
    expect(now).to_contain_text(re.compile("Session running|Start a session"))
    if page.get_by_test_id("stop-session").count():
        page.get_by_test_id("stop-session").click()
    expect(page.get_by_test_id("start-form")).to_be_visible()
    add = page.locator("form", has=page.get_by_role("heading", name="Therapists"))
    add.get_by_label("Name").fill(therapist)
    add.get_by_label("Weight (kg)").fill("65")
    add.get_by_role("button", name="Add therapist").click()
    expect(add).to_contain_text(f"{therapist}: 65.0 kg")

    start = page.get_by_test_id("start-form")
    start.get_by_label("Client").select_option(label=f"{name} (limit 40.0 kg)")
    start.get_by_label("Therapist", exact=True).select_option(label=f"{therapist} (65.0 kg)")
    expect(start.get_by_label("Therapist weight (kg)")).to_be_hidden()
    # the therapist hangs from the bars: 18.5 kg on each mount
    mounts = ("bar_a_left", "bar_a_right", "bar_b_left", "bar_b_right")
    rig.play(hang_csv(mounts, dict.fromkeys(mounts, 18.5)))
    start.get_by_role("button", name="Weigh in now").click()
    expect(start).to_contain_text(re.compile(r"Weighed in: 7[34]\.\d kg"), timeout=20_000)
    start.get_by_role("button", name="Start session").click()
    expect(now).to_contain_text("Session running")
    expect(now).to_contain_text(re.compile(r"Therapist\s*7[34]\.\d kg"))
    page.get_by_test_id("stop-session").click()
    expect(page.get_by_test_id("start-form")).to_be_visible()
