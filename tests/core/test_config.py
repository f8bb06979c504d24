"""Bad config fails at start with one line naming the file, the key and what is allowed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rigctl.config import DEFAULT_SIM_CONFIG, ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]


def variant(tmp_path: Path, old: str, new: str) -> Path:
    text = DEFAULT_SIM_CONFIG.read_text()
    assert old in text
    p = tmp_path / "bad.toml"
    p.write_text(text.replace(old, new, 1))
    return p


def test_shipped_configs_load() -> None:
    sim = load_config(ROOT / "config" / "sim.toml")
    pi = load_config(ROOT / "config" / "rigctl.toml")
    assert sim.rig.backend == "sim" and pi.rig.backend == "hx711"
    assert sim.mount_names == ("bar_a_left", "bar_a_right", "bar_b_left", "bar_b_right")
    assert pi.mount_names == sim.mount_names


@pytest.mark.parametrize("old,new,expect", [
    ("rate_hz = 200", "rate_hz = 5", "loop.rate_hz: Input should be greater than or equal to 50"),
    ("rate_hz = 200", "rate_hx = 200", "loop.rate_hx: unknown key"),
    ("stale_after_ms = 60", 'stale_after_ms = "soon"', "sampling.stale_after_ms:"),
    ('backend = "sim"', 'backend = "usb"', "rig.backend: Input should be 'sim', 'hx711' or 'iio'"),
    ("amber_pin = 27", "amber_pin = 17", "outputs.amber_pin: GPIO 17 is already used by "
                                         "outputs.green_pin"),
    ("scale = 22500", "scale = 0", "mounts.bar_b_left: scale must be at least 1"),
])
def test_bad_values_name_file_key_and_allowed(tmp_path: Path, old: str, new: str,
                                              expect: str) -> None:
    p = variant(tmp_path, old, new)
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert str(p) in str(e.value)
    assert expect in str(e.value)


def test_not_toml_names_the_file(tmp_path: Path) -> None:
    p = tmp_path / "x.toml"
    p.write_text("[rig\nname=")
    with pytest.raises(ConfigError, match=r"x\.toml: not valid TOML"):
        load_config(p)


def test_cli_bad_config_is_one_line_and_nonzero(tmp_path: Path) -> None:
    p = variant(tmp_path, "rate_hz = 200", "rate_hz = 5000")
    r = subprocess.run([sys.executable, "-m", "rigctl", "run", "--config", str(p)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr
    assert "loop.rate_hz" in lines[0] and "less than or equal to 1000" in lines[0]
