"""Tokens and roles on the real API: 401 without a token, 403 with the wrong role, 429 when
guessing, tokens never stored in clear, and the token commands of the device's shell."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rigctl.cli import build_parser
from rigctl.commands.api import is_loopback
from tests.support.rig import RIGCTL, Rig

#: the role each endpoint of this issue needs (DESIGN section 7)
NEEDS = {
    "/api/v1/status": "viewer",
    "/api/v1/stream": "viewer",
    "/api/v1/clients": "clinician",
    "/api/v1/clients/{client_id}": "clinician",
    "/api/v1/therapists": "clinician",
    "/api/v1/therapists/{therapist_id}": "clinician",
    "/api/v1/therapists/{therapist_id}/weigh-in": "clinician",
    "/api/v1/sessions": "clinician",
    "/api/v1/sessions/{session_id}": "clinician",
    "/api/v1/sessions/{session_id}/stop": "clinician",
    "/api/v1/sessions/{session_id}/trace.csv": "clinician",
    "/api/v1/rig": "installer",
    "/api/v1/tokens": "admin",
    "/api/v1/tokens/{token_id}": "admin",
    "/api/v1/audit": "admin",
    "/api/v1/sim/scenario": "admin",
}
ROLES = ("viewer", "clinician", "installer", "admin")
ALLOWED = {"viewer": set(ROLES), "clinician": {"clinician", "admin"},
           "installer": {"installer", "admin"}, "admin": {"admin"}}


def endpoints(rig: Rig) -> Iterator[tuple[str, str, str]]:
    """(method, template, concrete path) of every operation the API documents."""
    paths = httpx.get(f"{rig.base}/openapi.json").json()["paths"]
    for template, ops in paths.items():
        concrete = re.sub(r"\{[^}]+\}", "999999", template)  # ids that do not exist
        for method in ops:
            yield method.upper(), template, concrete


def test_every_endpoint_but_health_refuses_a_missing_or_unknown_token(shared_rig: Rig) -> None:
    seen = 0
    for method, template, path in endpoints(shared_rig):
        if template == "/api/v1/health":
            continue
        seen += 1
        for headers in ({}, {"Authorization": "Bearer rig_not-a-real-token"},
                        {"Authorization": "Basic dXNlcjpwYXNz"}):
            r = httpx.request(method, f"{shared_rig.base}{path}", headers=headers, timeout=5)
            assert r.status_code == 401, (method, path, headers, r.text)
            assert r.json()["code"] == "unauthorized"
            assert r.headers["www-authenticate"] == "Bearer"
    assert seen >= len(NEEDS)
    assert httpx.get(f"{shared_rig.base}/api/v1/health").status_code == 200


def test_a_token_without_the_role_gets_403_and_one_with_it_gets_through(shared_rig: Rig) -> None:
    for method, template, path in endpoints(shared_rig):
        need = NEEDS.get(template)
        if need is None:
            continue  # another feature's endpoint: its own tests check its role
        for role in ROLES:
            with shared_rig.client(role) as c:
                if template == "/api/v1/stream":
                    with c.stream(method, path, params={"max_events": 1}) as r:
                        code = r.status_code
                else:
                    code = c.request(method, path).status_code
            if role in ALLOWED[need]:
                assert code not in (401, 403), (role, method, path, code)
            else:
                assert code == 403, (role, method, path, code)


def test_tokens_made_through_the_api_are_not_stored_in_clear(shared_rig: Rig) -> None:
    with shared_rig.client("admin") as c:
        r = c.post("/api/v1/tokens", json={"role": "viewer", "name": "wall display"})
        assert r.status_code == 201
        token = r.json()["token"]
        listed = c.get("/api/v1/tokens").json()
    assert all("token" not in t for t in listed)  # never readable again
    with httpx.Client(base_url=shared_rig.base,
                      headers={"Authorization": f"Bearer {token}"}) as v:
        assert v.get("/api/v1/status").status_code == 200
    blob = b"".join(p.read_bytes() for p in shared_rig.state_dir.iterdir()
                    if p.name.startswith("rigctl.db"))
    assert token.encode() not in blob
    for t in shared_rig._tokens.values():
        assert t.encode() not in blob


def test_revoking_a_token_locks_it_out_at_once_and_is_audited(shared_rig: Rig) -> None:
    with shared_rig.client("admin") as c:
        new = c.post("/api/v1/tokens", json={"role": "clinician", "name": "temp"}).json()
        auth = {"Authorization": f"Bearer {new['token']}"}
        assert httpx.get(f"{shared_rig.base}/api/v1/clients", headers=auth).status_code == 200
        r = c.delete(f"/api/v1/tokens/{new['id']}")
        assert r.status_code == 200 and r.json()["revoked_at"]
        assert httpx.get(f"{shared_rig.base}/api/v1/clients", headers=auth).status_code == 401
        audit = c.get("/api/v1/audit", params={"entity": "token"}).json()
    assert (audit[0]["action"], audit[0]["entity_id"]) == ("revoke", str(new["id"]))
    assert (audit[1]["action"], audit[1]["new_value"]) == ("create", "clinician")


def test_guessing_tokens_is_rate_limited_per_address(tmp_path: Path) -> None:
    with Rig(tmp_path, api_args=("--auth-fail-limit", "3")).running() as r:
        good = r.token("viewer")
        url = f"{r.base}/api/v1/status"
        for i in range(3):
            bad = httpx.get(url, headers={"Authorization": f"Bearer rig_guess{i}"})
            assert bad.status_code == 401
        blocked = httpx.get(url, headers={"Authorization": "Bearer rig_guess4"})
        assert blocked.status_code == 429
        assert int(blocked.headers["retry-after"]) >= 1
        # while blocked, even a right guess is not confirmed
        assert httpx.get(url, headers={"Authorization": f"Bearer {good}"}).status_code == 429
        assert httpx.get(f"{r.base}/api/v1/health").status_code == 200


def test_token_create_prints_the_token_alone_on_the_last_line(shared_rig: Rig) -> None:
    sd = str(shared_rig.state_dir)
    out = subprocess.run([*RIGCTL, "token", "create", "--role", "installer", "--name", "ann",
                          "--state-dir", sd], capture_output=True, text=True, check=True).stdout
    token = out.splitlines()[-1]
    assert re.fullmatch(r"rig_[A-Za-z0-9_-]{40,}", token)
    auth = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{shared_rig.base}/api/v1/rig", headers=auth).status_code == 200
    assert httpx.get(f"{shared_rig.base}/api/v1/clients", headers=auth).status_code == 403
    listing = subprocess.run([*RIGCTL, "token", "list", "--state-dir", sd],
                             capture_output=True, text=True, check=True).stdout
    assert "ann" in listing and "installer" in listing and token not in listing
    tid = re.search(r"token (\d+)", out)
    assert tid is not None
    subprocess.run([*RIGCTL, "token", "revoke", tid.group(1), "--state-dir", sd], check=True,
                   capture_output=True)
    assert httpx.get(f"{shared_rig.base}/api/v1/rig", headers=auth).status_code == 401
    bad = subprocess.run([*RIGCTL, "token", "create", "--role", "root", "--state-dir", sd],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("localhost", True),
                                                 ("::1", True), ("0.0.0.0", False),
                                                 ("192.168.1.20", False), ("rig.local", False)])
def test_only_loopback_binds_go_without_a_warning(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_the_api_binds_loopback_unless_told_otherwise() -> None:
    args = build_parser().parse_args(["api"])
    assert args.host == "127.0.0.1"
