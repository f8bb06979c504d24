"""hardware/WIRING.md and config/rigctl.toml describe the same pins."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from rigctl.config import load_config
from tests.drivers.conftest import PI_CONFIG, ROOT

WIRING = ROOT / "hardware" / "WIRING.md"

#: BCM GPIO -> physical pin on the Raspberry Pi 40-pin header
HEADER = {2: 3, 3: 5, 4: 7, 14: 8, 15: 10, 17: 11, 18: 12, 27: 13, 22: 15, 23: 16, 24: 18,
          10: 19, 9: 21, 25: 22, 11: 23, 8: 24, 7: 26, 0: 27, 1: 28, 5: 29, 6: 31, 12: 32,
          13: 33, 19: 35, 16: 36, 26: 37, 20: 38, 21: 40}


def config_pins(path: Path) -> dict[str, int]:
    """Every ``*_pin`` key in the TOML file, plus I2C bus 1 pins when DRV2605Ls use it."""
    data = tomllib.loads(path.read_text())
    pins: dict[str, int] = {}

    def walk(node: dict[str, Any], prefix: str) -> None:
        for k, v in node.items():
            if isinstance(v, dict):
                walk(v, f"{prefix}{k}.")
            elif k.endswith("_pin") and isinstance(v, int):
                pins[f"{prefix}{k}"] = v

    walk(data, "")
    cfg = load_config(path)
    if cfg.outputs.haptic != "pwm":
        pins.pop("outputs.haptic_pin", None)  # not driven unless the PWM motor is used
    if cfg.outputs.haptic == "drv2605" and any(h.bus == 1 for h in cfg.haptics.values()):
        pins["i2c1.sda"] = 2
        pins["i2c1.scl"] = 3
    return pins


def doc_rows(path: Path) -> list[tuple[str, int, int]]:
    """(config key, BCM GPIO, header pin) rows of the '## Pin map' table."""
    text = path.read_text()
    section = text.split("## Pin map", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and re.fullmatch(r"\d+", cells[1]) and re.fullmatch(r"\d+", cells[2]):
            rows.append((cells[0], int(cells[1]), int(cells[2])))
    return rows


def test_every_pin_of_the_pi_config_is_in_the_wiring_table_and_nothing_else() -> None:
    doc = {key: gpio for key, gpio, _ in doc_rows(WIRING)}
    cfg = config_pins(PI_CONFIG)
    missing = {k: v for k, v in cfg.items() if doc.get(k) != v}
    extra = {k: v for k, v in doc.items() if k not in cfg}
    assert not missing, f"add or fix these rows in hardware/WIRING.md: {missing}"
    assert not extra, f"hardware/WIRING.md lists pins the config does not use: {extra}"


def test_header_pin_numbers_match_the_bcm_numbers() -> None:
    rows = doc_rows(WIRING)
    assert rows
    for key, gpio, header in rows:
        assert HEADER.get(gpio) == header, f"{key}: GPIO {gpio} is header pin {HEADER.get(gpio)}"


def test_the_check_catches_a_pin_changed_in_the_config_only(tmp_path: Path) -> None:
    changed = tmp_path / "rigctl.toml"
    changed.write_text(PI_CONFIG.read_text().replace("red_pin = 22", "red_pin = 16"))
    doc = {key: gpio for key, gpio, _ in doc_rows(WIRING)}
    assert config_pins(changed)["outputs.red_pin"] != doc["outputs.red_pin"]


OVERLAY = ROOT / "hardware" / "hx711-rigctl-overlay.dts"


def test_the_iio_overlay_compiles_and_matches_the_pi_config_pins(tmp_path: Path) -> None:
    import subprocess

    out = tmp_path / "hx711-rigctl.dtbo"
    proc = subprocess.run(["dtc", "-@", "-I", "dts", "-O", "dtb", "-o", str(out), str(OVERLAY)],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size > 0
    text = OVERLAY.read_text()
    nodes = re.findall(r'label = "(\w+)";\s*dout-gpios = <&gpio (\d+) 0>;[^\n]*\n'
                       r'\s*sck-gpios = <&gpio (\d+) 0>;', text)
    cfg = load_config(PI_CONFIG)
    assert {name: (int(d), int(s)) for name, d, s in nodes} == {
        name: (m.dout_pin, m.sck_pin) for name, m in cfg.mounts.items()}
