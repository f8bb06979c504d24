"""Bad input: a 4xx JSON body naming the field and the allowed range, and nothing stored."""

from __future__ import annotations

import httpx

from tests.support.rig import Rig


def error(r: httpx.Response, status: int) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"code", "detail", "field"}
    return str(body["field"]) + " | " + str(body["detail"])


def test_client_fields_out_of_range_name_the_field_and_the_range(shared_rig: Rig) -> None:
    with shared_rig.client("clinician") as c:
        before = c.get("/api/v1/clients").json()
        e = error(c.post("/api/v1/clients", json={"display_name": "A",
                                                 "foot_load_limit_kg": 200}), 422)
        assert "foot_load_limit_kg" in e and "5-120 kg" in e
        e = error(c.post("/api/v1/clients", json={"display_name": "A",
                                                 "foot_load_limit_kg": 4.9}), 422)
        assert "foot_load_limit_kg" in e and "5-120 kg" in e
        e = error(c.post("/api/v1/clients", json={"display_name": "x" * 81,
                                                 "foot_load_limit_kg": 40}), 422)
        assert "display_name" in e and "1-80 characters" in e
        e = error(c.post("/api/v1/clients", json={"display_name": "   ",
                                                 "foot_load_limit_kg": 40}), 422)
        assert "display_name" in e and "1-80 characters" in e
        e = error(c.post("/api/v1/clients", json={"display_name": "A",
                                                 "foot_load_limit_kg": "forty"}), 422)
        assert "foot_load_limit_kg" in e
        e = error(c.post("/api/v1/clients", json={"display_name": "A", "foot_load_limit_kg": 40,
                                                 "cleared": "yes"}), 422)
        assert "cleared" in e
        e = error(c.post("/api/v1/clients", json={"display_name": "A", "foot_load_limit_kg": 40,
                                                 "ssn": "123"}), 422)
        assert "ssn" in e
        ok = c.post("/api/v1/clients", json={"display_name": "A", "foot_load_limit_kg": 40})
        assert ok.status_code == 201
        cid = ok.json()["id"]
        e = error(c.patch(f"/api/v1/clients/{cid}", json={"foot_load_limit_kg": 121}), 422)
        assert "foot_load_limit_kg" in e and "5-120 kg" in e
        e = error(c.patch(f"/api/v1/clients/{cid}", json={"display_name": None}), 422)
        assert "display_name" in e
        assert c.get(f"/api/v1/clients/{cid}").json()["foot_load_limit_kg"] == 40
        assert len(c.get("/api/v1/clients").json()) == len(before) + 1
        e = error(c.get("/api/v1/clients/424242"), 404)
        assert "client 424242 does not exist" in e


def test_therapist_weight_and_session_bodies_name_the_field(shared_rig: Rig) -> None:
    with shared_rig.client("clinician") as c:
        e = error(c.post("/api/v1/therapists", json={"name": "T", "weight_kg": 29.9}), 422)
        assert "weight_kg" in e and "30-250 kg" in e
        e = error(c.post("/api/v1/therapists", json={"name": "T", "weight_kg": 251}), 422)
        assert "weight_kg" in e and "30-250 kg" in e
        e = error(c.post("/api/v1/sessions", json={"client_id": 1,
                                                  "therapist_weight_kg": 300}), 422)
        assert "therapist_weight_kg" in e and "30-250 kg" in e
        e = error(c.post("/api/v1/sessions", json={"client_id": 1, "therapist_id": 1,
                                                  "therapist_weight_kg": 70}), 422)
        assert "exactly one of therapist_id or therapist_weight_kg" in e
        e = error(c.post("/api/v1/sessions", json={"client_id": 98765,
                                                  "therapist_weight_kg": 70}), 404)
        assert "client 98765" in e
        e = error(c.post("/api/v1/sessions", content=b"{not json",
                         headers={"Content-Type": "application/json"}), 422)
        assert e.startswith("body | body: not valid JSON ("), e
        assert c.get("/api/v1/sessions").json() == []


def test_rig_settings_change_the_limit_range_with_audit_and_not_during_a_session(
        shared_rig: Rig) -> None:
    with shared_rig.client("installer") as inst, shared_rig.client("admin") as admin:
        rig = inst.get("/api/v1/rig").json()
        assert rig["warning"]["limit_max_kg"] == 120
        assert rig["mounts"]["bar_a_left"]["capacity_kg"] == 100
        e = error(inst.patch("/api/v1/rig", json={"warning": {"limit_min_kg": 130}}), 422)
        assert "limit_min_kg" in e and "below limit_max_kg" in e
        e = error(inst.patch("/api/v1/rig", json={"warning": {"over_dwell_ms": 5000}}), 422)
        assert "warning.over_dwell_ms" in e and "2000" in e
        e = error(inst.patch("/api/v1/rig", json={"mounts": {"bar_z": {"capacity_kg": 50}}}),
                  422)
        assert "mounts.bar_z" in e and "bar_a_left" in e
        r = inst.patch("/api/v1/rig", json={"warning": {"limit_max_kg": 150,
                                                        "over_dwell_ms": 60},
                                            "mounts": {"bar_b_left": {"capacity_kg": 120}}})
        assert r.status_code == 200, r.text
        assert r.json()["warning"]["limit_max_kg"] == 150
        # the core runs the new settings, and the API checks limits against them
        c = admin.post("/api/v1/clients", json={"display_name": "tall", "cleared": True,
                                                "foot_load_limit_kg": 140})
        assert c.status_code == 201, c.text
        e = error(admin.post("/api/v1/clients", json={"display_name": "x",
                                                      "foot_load_limit_kg": 151}), 422)
        assert "5-150 kg" in e
        audit = admin.get("/api/v1/audit", params={"entity": "rig"}).json()
        assert {(a["field"], a["old_value"], a["new_value"]) for a in audit} >= {
            ("warning.limit_max_kg", "120.0", "150.0"), ("warning.over_dwell_ms", "50.0", "60.0"),
            ("mounts.bar_b_left.capacity_kg", "100.0", "120.0")}
        s = admin.post("/api/v1/sessions", json={"client_id": c.json()["id"],
                                                 "therapist_weight_kg": 80})
        assert s.status_code == 201, s.text
        e = error(inst.patch("/api/v1/rig", json={"warning": {"over_dwell_ms": 70}}), 409)
        assert "during a session" in e
        assert inst.get("/api/v1/rig").json()["warning"]["over_dwell_ms"] == 60
        admin.post(f"/api/v1/sessions/{s.json()['id']}/stop")


def test_scenarios_with_bad_csv_are_refused_with_the_parsers_message(shared_rig: Rig) -> None:
    with shared_rig.client("admin") as c:
        csv = "t_s,bar_a_left,bar_a_right,bar_b_left\n0,1,2,3\n"
        e = error(c.post("/api/v1/sim/scenario", content=csv,
                         headers={"Content-Type": "text/csv"}), 422)
        assert "missing load column(s) bar_b_right" in e
        csv = "t_s,bar_a_left,bar_a_right,bar_b_left,bar_b_right\n0,1,2,3,x\n"
        e = error(c.post("/api/v1/sim/scenario", content=csv,
                         headers={"Content-Type": "text/csv"}), 422)
        assert "row 2, column 'bar_b_right': 'x' is not a number" in e
