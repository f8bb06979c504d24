"""kill -9 of either process: the core keeps warning, the API recovers, nothing is lost."""

from __future__ import annotations

import itertools
import sqlite3
import threading
import time
from pathlib import Path

import httpx

from tests.api.test_sessions_live import start_session
from tests.support.rig import Rig, core_request, scenario

#: foot load swinging over and under a 40 kg limit every second, forever
SWING = scenario([(0.0, 20.0), (0.4, 20.0), (0.401, 45.0), (0.9, 45.0), (0.901, 20.0),
                  (1.0, 20.0)])
LEAN = scenario([(0.0, 45.0), (5.0, 45.0)])


def watch_core(state_dir: Path, seconds: float) -> list[tuple[str, bool]]:
    """(state, red LED) as the core reports them, polled over its socket."""
    seen = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        st = core_request(state_dir, "status")
        seen.append((st["state"], st["outputs"]["red"]))
        time.sleep(0.02)
    return seen


def test_the_core_keeps_warning_when_the_api_dies_and_the_api_picks_up_again(rig: Rig) -> None:
    c = rig.client("admin")
    _, sid = start_session(c)
    c.post("/api/v1/sim/scenario", params={"loop": True}, content=SWING,
           headers={"Content-Type": "text/csv"})
    rig.kill("api")
    seen = watch_core(rig.state_dir, 2.5)
    # the outputs keep following the scenario: red on during each lean, off between
    reds = [red for _, red in seen]
    rises = sum(1 for a, b in itertools.pairwise(reds) if b and not a)
    assert rises >= 2, seen
    assert "over" in {s for s, _ in seen}
    assert all(s != "idle" for s, _ in seen)

    rig.start_api()
    c = rig.client("admin")
    s = c.get(f"/api/v1/sessions/{sid}").json()
    assert s["status"] == "active"
    assert s["summary"]["counts"]["over"] >= 2  # what happened while the API was away
    assert c.get("/api/v1/status").json()["session_id"] == sid
    r = c.post(f"/api/v1/sessions/{sid}/stop")
    assert r.status_code == 200 and r.json()["status"] == "stopped"
    trace = c.get(f"/api/v1/sessions/{sid}/trace.csv").text.splitlines()
    assert sum(1 for line in trace if ",over," in line) > 40  # recorded without the API


def test_health_reports_a_dead_core_within_1_s_and_a_restarted_core_resumes_the_limit(
        rig: Rig) -> None:
    c = rig.client("clinician")
    _, sid = start_session(c)
    rig.kill("core")
    t_kill = time.monotonic()
    while True:
        h = httpx.get(f"{rig.base}/api/v1/health", timeout=2).json()
        if h["status"] == "degraded":
            break
        assert time.monotonic() - t_kill < 1.0, h
        time.sleep(0.02)
    assert time.monotonic() - t_kill < 1.0
    assert h["core_up"] is False
    assert c.get("/api/v1/status").status_code == 503
    r = c.post(f"/api/v1/sessions/{sid}/stop")
    assert r.status_code == 503 and r.json()["code"] == "core_unavailable"

    rig.start_core()
    end = time.monotonic() + 5
    while httpx.get(f"{rig.base}/api/v1/health").json()["status"] != "ok":
        assert time.monotonic() < end, "the API did not reconnect by itself"
        time.sleep(0.05)
    st = c.get("/api/v1/status").json()
    assert (st["session_id"], st["limit_kg"], st["therapist_weight_kg"]) == (sid, 40.0, 70.0)
    # the limit is in force: lean to 45 kg and the core goes to over by itself
    core_request(rig.state_dir, "sim.scenario", {"csv": LEAN})
    end = time.monotonic() + 2
    while core_request(rig.state_dir, "status")["state"] != "over":
        assert time.monotonic() < end
        time.sleep(0.02)
    s = c.post(f"/api/v1/sessions/{sid}/stop").json()
    assert s["status"] == "stopped"
    states = [t["state"] for t in s["summary"]["transitions"]]
    assert "over" in states and states[-1] == "idle"
    # the transitions before and after the restart share the session's clock
    times = [t["t_s"] for t in s["summary"]["transitions"]]
    assert times == sorted(times)


def test_kill_9_during_heavy_writes_loses_no_acknowledged_write(tmp_path: Path) -> None:
    r = Rig(tmp_path)
    try:
        r.start_api(wait_core=False)  # the database does not need the core
        acked: list[int] = []
        lock = threading.Lock()
        stop = threading.Event()
        token = r.token("clinician")

        def writer(n: int) -> None:
            with httpx.Client(base_url=r.base, timeout=5,
                              headers={"Authorization": f"Bearer {token}"}) as c:
                i = 0
                while not stop.is_set():
                    i += 1
                    try:
                        resp = c.post("/api/v1/clients", json={
                            "display_name": f"w{n}-{i}", "foot_load_limit_kg": 20 + i % 50,
                            "cleared": i % 2 == 0})
                    except httpx.HTTPError:
                        return  # the server died mid-request: not acknowledged
                    if resp.status_code == 201:
                        with lock:
                            acked.append(resp.json()["id"])

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        time.sleep(1.5)
        r.kill("api")
        stop.set()
        for t in threads:
            t.join(10)
        assert len(acked) > 20
        db = sqlite3.connect(r.state_dir / "rigctl.db")
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {row[0] for row in db.execute("SELECT id FROM clients")}
        assert set(acked) <= stored
        # every stored client has both of its audit rows: no half-written change
        audited = db.execute("SELECT COUNT(*) FROM audit WHERE entity='client'").fetchone()[0]
        assert audited == 2 * len(stored)
        db.close()
    finally:
        r.stop()


def test_a_session_stopped_while_the_api_was_dead_is_imported_when_it_comes_back(
        rig: Rig) -> None:
    c = rig.client("clinician")
    _, sid = start_session(c)
    time.sleep(0.6)
    rig.kill("api")
    # the core stops it (as if the API died right after asking, before its import)
    stopped = core_request(rig.state_dir, "session.stop", {"session_id": sid})
    assert (rig.state_dir / "sessions" / sid / "summary.json").exists()
    rig.start_api()
    s = c.get(f"/api/v1/sessions/{sid}").json()
    assert s["status"] == "stopped"
    assert s["summary"]["duration_s"] == stopped["summary"]["duration_s"]
    assert s["summary"]["transitions"][-1]["state"] == "idle"
    assert len(c.get(f"/api/v1/sessions/{sid}/trace.csv").text.splitlines()) > 25
    assert not (rig.state_dir / "sessions" / sid).exists()  # imported, then removed


def test_a_session_the_core_started_while_the_api_was_dead_is_recorded(rig: Rig) -> None:
    c = rig.client("clinician")
    cid = c.post("/api/v1/clients", json={"display_name": "D", "foot_load_limit_kg": 33,
                                          "cleared": True}).json()["id"]
    rig.kill("api")
    core_request(rig.state_dir, "session.start", {"session_id": "s-from-core", "client_id": cid,
                                                   "limit_kg": 33, "therapist_kg": 72})
    rig.start_api()
    s = c.get("/api/v1/sessions/s-from-core").json()
    assert (s["status"], s["client_id"], s["limit_kg"], s["therapist_weight_kg"]) == (
        "active", cid, 33.0, 72.0)
    assert c.post("/api/v1/sessions/s-from-core/stop").json()["status"] == "stopped"
