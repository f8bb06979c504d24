"""GET /metrics on real processes (``rigctl core`` + ``rigctl api`` on 127.0.0.1),
read back with prometheus-client's own parser, as Prometheus would."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from rigctl.core.controller import Transition
from rigctl.core.warning import State
from rigctl.telemetry.metrics import StateClock, families, render
from tests.support.rig import Rig, scenario


def scrape(rig: Rig) -> dict[str, list[Sample]]:
    r = rig.client("viewer").get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    out: dict[str, list[Sample]] = {}
    for fam in text_string_to_metric_families(r.text):
        out[fam.name] = list(fam.samples)
    return out


def value(samples: list[Sample], name: str, **labels: str) -> float:
    hits = [s.value for s in samples if s.name == name and all(
        s.labels.get(k) == v for k, v in labels.items())]
    assert len(hits) == 1, (name, labels, samples)
    return hits[0]


def check_histogram(samples: list[Sample], name: str) -> float:
    """Buckets cumulative and ending in +Inf == _count; returns the count."""
    buckets = [(s.labels["le"], s.value) for s in samples if s.name == f"{name}_bucket"]
    assert buckets[-1][0] == "+Inf"
    edges = [float(le) for le, _ in buckets]
    counts = [c for _, c in buckets]
    assert edges == sorted(edges)
    assert counts == sorted(counts)
    count = value(samples, f"{name}_count")
    assert counts[-1] == count
    assert value(samples, f"{name}_sum") >= 0
    return count


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with Rig(tmp_path).running() as r:
        yield r


def test_metrics_parse_and_carry_the_loop_histograms_states_faults_and_sessions(
        rig: Rig) -> None:
    m = scrape(rig)
    assert value(m["rigctl_core_up"], "rigctl_core_up") == 1
    ticks = check_histogram(m["rigctl_loop_period_error_seconds"],
                            "rigctl_loop_period_error_seconds")
    assert ticks > 0
    assert check_histogram(m["rigctl_loop_tick_compute_seconds"],
                           "rigctl_loop_tick_compute_seconds") > 0
    assert value(m["rigctl_loop_overruns"], "rigctl_loop_overruns_total") >= 0
    states = {s.labels["state"]: s.value for s in m["rigctl_state"]}
    assert set(states) == {s.value for s in State}
    assert states["idle"] == 1 and sum(states.values()) == 1
    assert value(m["rigctl_state_seconds"], "rigctl_state_seconds_total", state="idle") > 0
    mounts = {s.labels["mount"] for s in m["rigctl_mount_ok"]}
    assert mounts == {"bar_a_left", "bar_a_right", "bar_b_left", "bar_b_right"}
    kinds = {s.labels["kind"] for s in m["rigctl_sensor_faults"]}
    assert {"stale", "saturated"} <= kinds
    # the hold scenario: 50 kg on the bars of a rig with nobody on it yet
    assert value(m["rigctl_bar_load_kg"], "rigctl_bar_load_kg") == pytest.approx(50, abs=1)
    assert "rigctl_limit_kg" not in m
    assert value(m["rigctl_session_active"], "rigctl_session_active") == 0
    assert m.get("rigctl_sessions", []) == []

    admin = rig.client("admin")
    r = admin.post("/api/v1/clients", json={"display_name": "A", "foot_load_limit_kg": 40,
                                            "cleared": True})
    assert r.status_code == 201, r.text
    r = admin.post("/api/v1/sessions", json={"client_id": r.json()["id"],
                                             "therapist_weight_kg": 70})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    # a lean to 45 kg on the client: over a 40 kg limit
    r = admin.post("/api/v1/sim/scenario", content=scenario([(0, 20), (0.3, 20), (0.301, 45),
                                                             (5, 45)]),
                   headers={"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    time.sleep(0.8)
    m = scrape(rig)
    assert value(m["rigctl_limit_kg"], "rigctl_limit_kg") == 40
    assert value(m["rigctl_session_active"], "rigctl_session_active") == 1
    assert value(m["rigctl_state"], "rigctl_state", state="over") == 1
    assert value(m["rigctl_foot_load_kg"], "rigctl_foot_load_kg") == pytest.approx(45, abs=1)
    assert value(m["rigctl_transitions"], "rigctl_transitions_total", state="over") == 1
    assert value(m["rigctl_transitions"], "rigctl_transitions_total", state="ok") == 1
    assert value(m["rigctl_sessions"], "rigctl_sessions", status="active") == 1
    assert check_histogram(m["rigctl_loop_period_error_seconds"],
                           "rigctl_loop_period_error_seconds") > ticks

    r = admin.post(f"/api/v1/sessions/{sid}/stop")
    assert r.status_code == 200, r.text
    m = scrape(rig)
    assert value(m["rigctl_sessions"], "rigctl_sessions", status="stopped") == 1
    assert value(m["rigctl_state_seconds"], "rigctl_state_seconds_total", state="over") > 0.3


def test_metrics_need_a_token_and_still_answer_when_the_core_is_down(rig: Rig) -> None:
    assert rig.client(None).get("/metrics").status_code == 401
    rig.kill("core")
    deadline = time.monotonic() + 5
    while True:
        m = scrape(rig)
        if value(m["rigctl_core_up"], "rigctl_core_up") == 0:
            break
        assert time.monotonic() < deadline, "core_up stayed 1 with the core killed"
        time.sleep(0.1)
    assert "rigctl_loop_period_error_seconds" not in m


def test_state_clock_adds_time_per_state_and_counts_entries() -> None:
    s = 1_000_000_000
    clock = StateClock(State.IDLE, 0)
    clock.on_transition(Transition(2 * s, State.OK, 10.0))
    clock.on_transition(Transition(5 * s, State.OVER, 45.0))
    clock.on_transition(Transition(5 * s, State.OVER, 45.0))  # a repeat is not an entry
    seconds, entries = clock.snapshot(6 * s)
    assert seconds["idle"] == 2 and seconds["ok"] == 3 and seconds["over"] == 1
    assert entries["ok"] == 1 and entries["over"] == 1 and entries["idle"] == 0


def test_without_the_core_only_up_and_sessions_are_rendered() -> None:
    names = [f.name for f in families(None, {"stopped": 2})]
    assert names == ["rigctl_core_up", "rigctl_sessions"]
    text = render(None, None).decode()
    assert "rigctl_core_up 0.0" in text
