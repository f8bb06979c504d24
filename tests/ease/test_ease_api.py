"""The client's comfort button end to end: ``rigctl core`` (sim rig) + ``rigctl api`` (uvicorn).

Presses come from the dashboard (``POST /sessions/{id}/ease``) and from the
sim's hand-held button, a mock pin inside the core process driven by the
``sim.comfort_button`` core operation (pin -> debounce -> loop, as on a Pi).
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
import time

import pytest

from tests.ease.conftest import Events, new_client, start
from tests.support.rig import Rig, bars_for, core_request

#: the ease row of the outputs table (DESIGN section 6, rigctl/core/patterns.py)
EASE_BUZZER_HZ = {0.0, 1500.0, 2200.0}
EASE_HAPTIC = {0.0, 0.8}


def hold_foot(rig: Rig, foot_kg: float, settle_s: float = 0.3) -> None:
    """The therapist (70 kg) leaves ``foot_kg`` on the client from now on."""
    core_request(rig.state_dir, "sim.hold", {"loads_kg": bars_for(foot_kg)})
    time.sleep(settle_s)


def test_a_dashboard_press_mid_session_gives_ease_at_the_next_tick_and_is_recorded(
        comfort_rig: Rig) -> None:
    rig = comfort_rig
    c = rig.client("clinician")
    sid = start(c, new_client(c, 40.0))
    try:
        hold_foot(rig, 24.0)
        with Events(rig) as ev:
            r = c.post(f"/api/v1/sessions/{sid}/ease")
            assert r.status_code == 201, r.text
            p = r.json()
            time.sleep(0.8)  # ease holds >= 3 s: watch 0.8 s of it
        assert (p["state"], p["session_id"], p["source"]) == ("ease", sid, "dashboard")
        assert p["ticks_waited"] <= 1  # raised by the first tick that began after the request
        assert p["foot_load_kg"] == pytest.approx(24.0, abs=0.5)
        assert p["peak_2s_kg"] == pytest.approx(24.0, abs=0.5)
        # the core's transition is at the press's own time, and the press is on the stream
        eases = [t for t in ev.of("transition") if t["state"] == "ease"]
        assert [t["t_s"] for t in eases] == [p["t_s"]]
        assert ev.of("ease") == [{k: p[k] for k in ("in_session", "session_id", "t_s",
                                                     "foot_load_kg", "peak_2s_kg", "source")}]
        # the outputs follow the ease row: green on, amber blinking 2 Hz, red off, chirps,
        # double pulses; nothing of `over` (red, continuous 2.7 kHz)
        outs = [s["outputs"] for s in ev.of("status") if s["state"] == "ease"]
        assert len(outs) >= 8
        assert all(o["green"] and not o["red"] for o in outs)
        assert {o["amber"] for o in outs} == {True, False}
        assert {o["buzzer_hz"] for o in outs} <= EASE_BUZZER_HZ
        assert {o["haptic"] for o in outs} <= EASE_HAPTIC
        assert any(o["buzzer_hz"] for o in outs)
        assert c.get("/api/v1/status").json()["state"] == "ease"
    finally:
        stop = c.post(f"/api/v1/sessions/{sid}/stop")
    assert stop.status_code == 200, stop.text
    want = [{"t_s": p["t_s"], "foot_load_kg": p["foot_load_kg"], "peak_2s_kg": p["peak_2s_kg"]}]
    assert stop.json()["summary"]["ease_events"] == want
    assert c.get(f"/api/v1/sessions/{sid}").json()["summary"]["ease_events"] == want  # stored
    assert stop.json()["summary"]["counts"]["ease"] == 1

    rows = list(csv.DictReader(io.StringIO(c.get(f"/api/v1/sessions/{sid}/trace.csv").text)))
    marked = [x for x in rows if x["ease_press"]]
    assert [x["ease_press"] for x in marked] == [f"{p['t_s']:.3f}"]
    assert abs(float(marked[0]["t_s"]) - p["t_s"]) <= 0.02  # its nearest 50 Hz row
    after = [x for x in rows if p["t_s"] + 0.02 < float(x["t_s"]) < p["t_s"] + 0.8]
    assert after and all(x["state"] == "ease" for x in after)


def test_the_hand_held_button_debounces_a_bouncing_contact_into_one_press(
        comfort_rig: Rig) -> None:
    rig = comfort_rig
    c = rig.client("clinician")
    sid = start(c, new_client(c, 40.0))
    try:
        hold_foot(rig, 26.0)
        with Events(rig) as ev:
            # the contact toggles every 1 ms for 20 ms, then stays closed for 100 ms
            r = core_request(rig.state_dir, "sim.comfort_button",
                             {"bounce_ms": 20, "toggle_ms": 1, "hold_ms": 100})
            time.sleep(0.3)
        assert (r["presses"], r["bounces"]) == (1, 10)
        assert r["edge_to_press_ms"] is not None  # the loop took it
        [press] = ev.of("ease")
        assert (press["in_session"], press["session_id"], press["source"]) == (True, sid,
                                                                               "button")
        assert press["foot_load_kg"] == pytest.approx(26.0, abs=0.5)
        assert [t["t_s"] for t in ev.of("transition") if t["state"] == "ease"] == [
            press["t_s"]]
        live = c.get(f"/api/v1/sessions/{sid}").json()["summary"]
        assert [e["t_s"] for e in live["ease_events"]] == [press["t_s"]]
    finally:
        stop = c.post(f"/api/v1/sessions/{sid}/stop")
    assert len(stop.json()["summary"]["ease_events"]) == 1


def test_a_press_outside_a_session_changes_no_output_but_is_seen_and_logged(
        comfort_rig: Rig) -> None:
    rig = comfort_rig
    with Events(rig) as ev:
        time.sleep(0.3)
        n_before = len(ev.of("status"))
        r = core_request(rig.state_dir, "sim.comfort_button", {"hold_ms": 50})
        time.sleep(0.5)
    assert r["presses"] == 1 and r["edge_to_press_ms"] is not None  # it reached the loop ...
    assert ev.of("ease") == [{"in_session": False, "session_id": None, "t_s": None,
                              "foot_load_kg": None, "peak_2s_kg": None, "source": "button"}]
    statuses = ev.of("status")
    assert len(statuses) - n_before >= 5
    # ... and nothing changed: idle before and after, the idle row's outputs only
    assert not ev.of("transition")
    assert all(s["state"] == "idle" for s in statuses)
    assert all(not (o["amber"] or o["red"] or o["buzzer_hz"] or o["haptic"])
               for o in (s["outputs"] for s in statuses))
    assert "comfort button pressed outside a session" in rig.log("core")


def test_the_dashboard_press_needs_the_active_session_and_a_clinician(comfort_rig: Rig) -> None:
    rig = comfort_rig
    c = rig.client("clinician")
    sid = start(c, new_client(c, 40.0))
    assert rig.client("viewer").post(f"/api/v1/sessions/{sid}/ease").status_code == 403
    assert c.post(f"/api/v1/sessions/{sid}/stop").status_code == 200
    r = c.post(f"/api/v1/sessions/{sid}/ease")
    assert r.status_code == 409 and "not active" in r.json()["detail"]
    assert c.post("/api/v1/sessions/nosuchsession/ease").status_code == 404
    assert c.get(f"/api/v1/sessions/{sid}").json()["summary"]["ease_events"] == []
    # the core refuses a press for a session it does not run, whatever the API believes
    with pytest.raises(RuntimeError, match="conflict"):
        core_request(rig.state_dir, "ease.press", {"session_id": sid})


def test_presses_over_three_sessions_suggest_a_limit_that_a_clinician_accepts(
        comfort_rig: Rig) -> None:
    rig = comfort_rig
    c = rig.client("clinician")
    cid = new_client(c, 40.0, "Client L")
    other = new_client(c, 40.0, "Someone else")

    def session_with_press(client_id: int, foot_kg: float, hand_held: bool) -> str:
        sid = start(c, client_id)
        try:
            hold_foot(rig, foot_kg)
            if hand_held:
                assert core_request(rig.state_dir, "sim.comfort_button",
                                    {"hold_ms": 50})["presses"] == 1
            else:
                assert c.post(f"/api/v1/sessions/{sid}/ease").status_code == 201
        finally:
            assert c.post(f"/api/v1/sessions/{sid}/stop").status_code == 200
        return sid

    s1 = session_with_press(cid, 30.0, hand_held=False)
    session_with_press(other, 10.0, hand_held=False)  # another client's press never counts
    s2 = session_with_press(cid, 34.0, hand_held=True)
    got = c.get(f"/api/v1/clients/{cid}").json()
    assert got["suggested_limit_kg"] is None  # two presses are not enough
    assert "this client has 2 in 2" in got["suggestion"]["reason"]
    assert [e["session_id"] for e in got["suggestion"]["evidence"]] == [s2, s1]

    s3 = session_with_press(cid, 32.0, hand_held=False)
    got = c.get(f"/api/v1/clients/{cid}").json()
    assert got["foot_load_limit_kg"] == 40.0  # a suggestion changes nothing by itself
    s = got["suggestion"]
    assert (s["presses"], s["sessions"]) == (3, 3)
    assert [e["session_id"] for e in s["evidence"]] == [s3, s2, s1]
    loads = [e["presses"][0]["foot_load_kg"] for e in s["evidence"]]
    assert loads == pytest.approx([32.0, 34.0, 30.0], abs=0.5)
    assert all(e["limit_kg"] == 40.0 for e in s["evidence"])
    # the median of the loads measured (~32) less max(5 %, 1.5 kg), down to 0.5 kg: ~30
    m = statistics.median(loads)
    suggested = got["suggested_limit_kg"]
    assert suggested == math.floor((m - max(0.05 * m, 1.5)) * 2) / 2
    assert suggested == pytest.approx(30.0, abs=0.5)

    # accepting it is the ordinary PATCH, audited with who, old and new
    r = c.patch(f"/api/v1/clients/{cid}", json={"foot_load_limit_kg": suggested})
    assert r.status_code == 200 and r.json()["foot_load_limit_kg"] == suggested
    audit = rig.client("admin").get("/api/v1/audit", params={"entity": "client"}).json()
    change = audit[0]
    assert (change["entity_id"], change["field"], change["old_value"], change["new_value"]) == (
        str(cid), "foot_load_limit_kg", "40.0", json.dumps(suggested))
    assert "clinician" in change["actor"]
    after = c.get(f"/api/v1/clients/{cid}").json()
    assert after["suggested_limit_kg"] is None  # the same evidence does not ask for less again
    assert after["suggestion"]["computed_limit_kg"] == suggested


def test_a_press_survives_a_core_crash_in_the_same_session(own_rig: Rig) -> None:
    rig = own_rig
    c = rig.client("clinician")
    sid = start(c, new_client(c, 40.0))
    hold_foot(rig, 22.0)
    p = c.post(f"/api/v1/sessions/{sid}/ease").json()
    rig.kill("core")  # right after the answer: the press was on disk before it
    rig.start_core()
    deadline = time.monotonic() + 10
    while c.get("/api/v1/status").status_code != 200:
        assert time.monotonic() < deadline, rig.log("api")
        time.sleep(0.1)
    r = c.post(f"/api/v1/sessions/{sid}/stop")
    assert r.status_code == 200, r.text
    assert r.json()["summary"]["ease_events"] == [
        {"t_s": p["t_s"], "foot_load_kg": p["foot_load_kg"], "peak_2s_kg": p["peak_2s_kg"]}]
