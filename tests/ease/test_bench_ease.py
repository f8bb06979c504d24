"""``rigctl bench-ease`` refuses a rig it cannot press (the figures themselves: README)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from rigctl.config import DEFAULT_SIM_CONFIG


def test_bench_ease_needs_a_sim_rig_with_a_comfort_button(tmp_path: Path) -> None:
    cfg = tmp_path / "rig.toml"
    cfg.write_text(DEFAULT_SIM_CONFIG.read_text().replace("comfort_pin = 26", ""))
    p = subprocess.run([sys.executable, "-m", "rigctl", "bench-ease", "--config", str(cfg)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2
    assert p.stderr.strip().splitlines() == [
        "rigctl: bench-ease: needs a sim config with [inputs] comfort_pin"]
