"""Calibration and weigh-in through the real API: uvicorn on 127.0.0.1 + a real core process.

Hanging a weight is done the way an admin does it on the sim: POST a scenario
(``/api/v1/sim/scenario``) that puts the load on the mounts, then ask for the
point. The sim's hidden calibration is 3 % / 3 kg off the config.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from rigctl.api.app import create_app
from rigctl.config import load_config

from .conftest import NAMES, CalRig


@pytest.fixture(scope="module")
def cal_rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CalRig]:
    rig = CalRig(tmp_path_factory.mktemp("calapi"), calibration={"weigh_in_timeout_s": 4.0})
    with rig.running() as r:
        yield r


def test_calibration_needs_the_installer_role(cal_rig: CalRig) -> None:
    assert httpx.get(f"{cal_rig.base}/api/v1/calibration").status_code == 401
    for role in ("viewer", "clinician"):
        with cal_rig.client(role) as c:
            r = c.post("/api/v1/calibration/tare")
            assert r.status_code == 403 and "installer role" in r.json()["detail"]
    with cal_rig.client("installer") as c:
        assert c.get("/api/v1/calibration").status_code == 200


def test_a_calibration_over_the_api_is_checked_committed_verified_and_audited(
        cal_rig: CalRig) -> None:
    admin = cal_rig.client("admin")
    inst = cal_rig.client("installer")
    inst.timeout = httpx.Timeout(30.0)
    cal_rig.hang(admin, {})
    r = inst.post("/api/v1/calibration/tare")
    assert r.status_code == 200, r.text
    # bad input names the field and the range; unknown mount is 404
    r = inst.post("/api/v1/calibration/mounts/bar_z/points", json={"known_kg": 10})
    assert r.status_code == 404 and "unknown mount 'bar_z'" in r.json()["detail"]
    r = inst.post("/api/v1/calibration/mounts/bar_a_left/points", json={"known_kg": 500})
    assert r.status_code == 422
    assert r.json()["detail"] == "known_kg: 500 is outside the allowed range 0.1-100 kg"
    r = inst.post("/api/v1/calibration/mounts/bar_a_left/points", json={"known_kg": -1})
    assert r.status_code == 422 and r.json()["field"] == "known_kg"
    # a commit with too few points is refused with the reason, nothing is written
    r = inst.post("/api/v1/calibration/commit", json={"installer": "Kim"})
    assert r.status_code == 409
    assert r.json()["detail"].startswith("commit refused: bar_a_left: 0 known weight(s)")
    r = inst.post("/api/v1/calibration/commit", json={"installer": ""})
    assert r.status_code == 422 and r.json()["field"] == "installer"

    # two weights on each bar, in the middle: each mount gets half of each
    for bar, left, right in (("a", "bar_a_left", "bar_a_right"),
                             ("b", "bar_b_left", "bar_b_right")):
        for kg in (20.0, 50.0):
            cal_rig.hang(admin, {left: kg / 2, right: kg / 2})
            r = inst.post(f"/api/v1/calibration/bars/{bar}/points", json={"known_kg": kg})
            assert r.status_code == 200, r.text
            assert {p["mount"]: p["known_kg"] for p in r.json()["points"]} == {
                left: kg / 2, right: kg / 2}
    cal_rig.hang(admin, {})
    prev = inst.get("/api/v1/calibration/preview").json()
    assert prev["ok"] is True, prev["problems"]
    r = inst.post("/api/v1/calibration/commit", json={"installer": "Kim Installer"})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 1
    st = inst.get("/api/v1/calibration").json()
    assert st["in_force"]["version"] == 1 and st["draft"] is None

    for m in NAMES:
        cal_rig.hang(admin, {m: 15.0})
        r = inst.post("/api/v1/calibration/verify", json={"known_kg": 15, "mount": m})
        assert r.status_code == 200, r.text
        assert abs(r.json()["mounts"][m]["error_pct"]) < 0.5, r.json()
    cal_rig.hang(admin, {})
    time.sleep(0.8)  # the weight's swing dies out: a re-tare takes 1 s as it is
    r = inst.post("/api/v1/calibration/retare")
    assert r.status_code == 200, r.text
    assert all(abs(kg) < 0.1 for kg in r.json()["moved_kg"].values())

    hist = inst.get("/api/v1/calibration/history").json()
    assert [(h["version"], h["installer"]) for h in hist] == [(1, "Kim Installer")]
    rep = inst.get("/api/v1/calibration/report").json()
    assert rep["verdict"]["all_verified_within_tolerance"] is True
    page = inst.get("/api/v1/calibration/report.html")
    assert page.headers["content-type"].startswith("text/html")
    assert page.text.count("<svg") == 4
    assert inst.get("/api/v1/calibration/report", params={"version": 7}).status_code == 404

    audit = admin.get("/api/v1/audit", params={"entity": "calibration", "limit": 200}).json()
    actions = {(a["action"], a["field"]) for a in audit}
    assert ("tare", "draft.started_at") in actions
    assert ("point", "draft.bar_a_left") in actions
    assert ("commit", "version") in actions and ("commit", "bar_b_right.scale") in actions
    assert ("verify", "error_pct.bar_a_left") in actions
    assert ("retare", "bar_a_left.zero") in actions
    commit_row = next(a for a in audit if a["action"] == "commit" and a["field"] == "version")
    assert (commit_row["old_value"], commit_row["new_value"]) == ("0", "1")
    assert "(test installer, installer)" in commit_row["actor"]
    admin.close()
    inst.close()


def test_weigh_in_sets_the_therapist_weight_or_says_why_not(cal_rig: CalRig) -> None:
    admin = cal_rig.client("admin")
    clin = cal_rig.client("clinician")
    clin.timeout = httpx.Timeout(30.0)
    tid = clin.post("/api/v1/therapists", json={"name": "Robin", "weight_kg": 70}).json()["id"]
    # only a little weight on the bars: refused within the time limit, weight unchanged
    cal_rig.hang(admin, {m: 3.0 for m in NAMES})
    r = clin.post(f"/api/v1/therapists/{tid}/weigh-in")
    assert r.status_code == 409
    assert "is below 30 kg - hang fully from the bars with feet off the table" in \
        r.json()["detail"]
    assert clin.get(f"/api/v1/therapists/{tid}").json()["weight_kg"] == 70
    # hanging fully: the still bar load is the weight (the rig is calibrated by now)
    cal_rig.hang(admin, {"bar_a_left": 18.0, "bar_a_right": 16.1, "bar_b_left": 17.3,
                         "bar_b_right": 16.9})
    r = clin.post(f"/api/v1/therapists/{tid}/weigh-in")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["weight_kg"] == pytest.approx(68.3, abs=0.3)
    assert body["spread_kg"] < 0.5
    assert body["therapist"]["weight_kg"] == body["weight_kg"]
    assert clin.post("/api/v1/therapists/999999/weigh-in").status_code == 404
    audit = admin.get("/api/v1/audit", params={"entity": "therapist"}).json()
    assert any(a["action"] == "weigh-in" and a["new_value"] == str(body["weight_kg"])
               for a in audit)
    cal_rig.hang(admin, {})
    admin.close()
    clin.close()


# -- the calibration endpoints under schemathesis (short capture windows keep it quick) ---

def _calibration_schema() -> Any:
    """The OpenAPI document the server serves, reduced to the calibration operations."""
    app = create_app(load_config(None), Path(tempfile.gettempdir()))
    return schemathesis.openapi.from_dict(app.openapi()).include(tag="calibration")


FAST = {"tare_s": 0.2, "point_s": 0.2, "settle_timeout_s": 1.0, "weigh_in_window_s": 0.5,
        "weigh_in_timeout_s": 1.0}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@pytest.fixture(scope="module")
def fuzz_cal_rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CalRig]:
    with CalRig(tmp_path_factory.mktemp("calfuzz"), calibration=FAST).running() as r:
        yield r


@_calibration_schema().parametrize()
@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_calibration_endpoints_give_no_5xx_and_fit_the_schema(case: Any,
                                                              fuzz_cal_rig: CalRig) -> None:
    headers = {"Authorization": f"Bearer {fuzz_cal_rig.token('installer')}"}
    case.call_and_validate(base_url=fuzz_cal_rig.base, checks=CHECKS, headers=headers)
