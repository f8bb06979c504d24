"""schemathesis over the OpenAPI schema of a real API: no 5xx, no answer outside the schema.

Runs as admin (every endpoint reachable) against its own core + API, so the
random rig settings, sessions and token revocations it makes touch nothing
else. ``/stream`` is left out: it is endless by design (see test_sessions_live).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
from rigctl.storage import Database
from tests.support.rig import Rig

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@pytest.fixture(scope="module")
def fuzz_rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    with Rig(tmp_path_factory.mktemp("fuzz")).running() as r:
        c = r.client("admin")
        for i in range(3):  # records for the generated ids to find
            c.post("/api/v1/clients", json={"display_name": f"c{i}", "foot_load_limit_kg": 40,
                                            "cleared": True})
            c.post("/api/v1/therapists", json={"name": f"t{i}", "weight_kg": 70})
        yield r


def _schema_of_the_app() -> Any:
    """The same OpenAPI document the server serves at /openapi.json (no server needed)."""
    app = create_app(load_config(None), Path(tempfile.gettempdir()))
    return schemathesis.openapi.from_dict(app.openapi())


#: the calibration operations capture for seconds each; tests/calibration/test_api.py
#: fuzzes them against a rig with short capture windows
schema = _schema_of_the_app().exclude(path="/api/v1/stream").exclude(tag="calibration")


def _admin_token(rig: Rig) -> str:
    """A live admin token (the fuzzer may revoke the one it had: make another)."""
    db = Database.in_state_dir(rig.state_dir)
    try:
        tok = rig.token("admin")
        if db.verify_token(tok) is None:
            tok = db.create_token("test", "admin", "fuzz")[1]
            rig._tokens["admin"] = tok
        return tok
    finally:
        db.close()


@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_no_5xx_and_every_answer_fits_the_schema(case: Any, fuzz_rig: Rig) -> None:
    headers = {"Authorization": f"Bearer {_admin_token(fuzz_rig)}"}
    case.call_and_validate(base_url=fuzz_rig.base, checks=CHECKS, headers=headers)


def test_the_openapi_docs_are_served(fuzz_rig: Rig) -> None:
    import httpx

    r = httpx.get(f"{fuzz_rig.base}/docs")
    assert r.status_code == 200 and "swagger" in r.text.lower()
    # served by the rig itself: /docs works on a clinic network without internet
    scripts = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', r.text)
    assert scripts and all(u.startswith("/") for u in scripts), scripts
    for u in scripts:
        assert httpx.get(f"{fuzz_rig.base}{u}").status_code == 200
    paths = httpx.get(f"{fuzz_rig.base}/openapi.json").json()["paths"]
    for p in ("/api/v1/health", "/api/v1/status", "/api/v1/stream", "/api/v1/clients",
              "/api/v1/clients/{client_id}", "/api/v1/therapists",
              "/api/v1/therapists/{therapist_id}/weigh-in", "/api/v1/sessions",
              "/api/v1/sessions/{session_id}", "/api/v1/sessions/{session_id}/stop",
              "/api/v1/sessions/{session_id}/trace.csv", "/api/v1/rig", "/api/v1/tokens",
              "/api/v1/tokens/{token_id}", "/api/v1/audit", "/api/v1/sim/scenario"):
        assert p in paths, p


