"""Helpers of the dashboard's browser tests: the rig under test, scenarios, sign-in, screenshots."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.support.rig import MOUNTS, core_request

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "web"
#: the demo session of config/sim.toml
LIMIT_KG = 40.0
THERAPIST_KG = 70.0


def make_token(state_dir: Path, role: str) -> str:
    out = subprocess.run([sys.executable, "-m", "rigctl", "token", "create", "--role", role,
                          "--name", f"web test {role}", "--state-dir", str(state_dir)],
                         check=True, capture_output=True, text=True, timeout=30)
    return out.stdout.strip().splitlines()[-1]


def scenario_csv(rows: list[tuple[float, float]], fault: list[str] | None = None) -> str:
    """Rows of (t_s, kg on each of the four mounts); optional fault mode for bar_b_right."""
    head = "t_s," + ",".join(MOUNTS) + (",fault:bar_b_right" if fault else "")
    lines = [head]
    for i, (t, kg) in enumerate(rows):
        cells = [f"{t:g}"] + [f"{kg:g}"] * len(MOUNTS) + ([fault[i]] if fault else [])
        lines.append(",".join(cells))
    return "\n".join(lines) + "\n"


#: foot load 22 kg (55 % of the 40 kg limit): ok
STEADY_OK = scenario_csv([(0, 12.0), (60, 12.0)])
#: foot load 50 kg: >= 1.2 x limit, over at once
OVER = scenario_csv([(0, 5.0), (60, 5.0)])


@dataclass
class Rig:
    base: str
    state_dir: Path
    tokens: dict[str, str]
    proc: subprocess.Popen[bytes]

    def client(self, role: str = "admin") -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=10.0,
                            headers={"Authorization": f"Bearer {self.tokens[role]}"})

    def play(self, csv: str, loop: bool = False) -> dict[str, Any]:
        with self.client() as c:
            r = c.post("/api/v1/sim/scenario", content=csv, params={"loop": loop},
                       headers={"Content-Type": "text/csv"})
            r.raise_for_status()
            return dict(r.json())

    def status(self) -> dict[str, Any]:
        with self.client() as c:
            r = c.get("/api/v1/status")
            r.raise_for_status()
            return dict(r.json())

    def ensure_session(self) -> None:
        """A session with the demo limit and weight is running (a test may have stopped it)."""
        with self.client() as c:
            active = [s for s in c.get("/api/v1/sessions").json() if s["status"] == "active"]
            if active:
                return
            cl = c.post("/api/v1/clients", json={"display_name": "web test client",
                                                 "foot_load_limit_kg": LIMIT_KG,
                                                 "cleared": True}).json()
            c.post("/api/v1/sessions", json={"client_id": cl["id"],
                                             "therapist_weight_kg": THERAPIST_KG}
                   ).raise_for_status()


    def stop_sessions(self) -> None:
        """No session is running afterwards (ease, once pressed, holds while the load does)."""
        with self.client() as c:
            for s in c.get("/api/v1/sessions").json():
                if s["status"] == "active":
                    c.post(f"/api/v1/sessions/{s['id']}/stop").raise_for_status()

    def press_hand_held(self) -> dict[str, Any]:
        """The client presses the sim's comfort button (a mock pin in the core process).

        There is no HTTP route for it (on a real rig it is a finger on a button):
        the core's own socket operation ``sim.comfort_button`` drives the pin.
        """
        return dict(core_request(self.state_dir, "sim.comfort_button", {"hold_ms": 50},
                                 timeout=5.0))


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # rigctl run stops the session, the API, the core
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def sign_in(page: Page, rig: Rig, role: str) -> None:
    page.goto(rig.base + "/")
    page.get_by_label("Token").fill(rig.tokens[role])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def shot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
