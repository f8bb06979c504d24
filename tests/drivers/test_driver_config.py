"""Bad driver config fails at start with one line naming the file and the key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rigctl.config import ConfigError, load_config
from rigctl.outputs.factory import build_outputs
from rigctl.outputs.gpio import mock_pin_factory
from tests.drivers.conftest import PI_CONFIG, drv_tables

DRV_TABLES = drv_tables(3)


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "rigctl.toml"
    p.write_text(text)
    return p


def pi_text(*replacements: tuple[str, str], extra: str = "") -> str:
    text = PI_CONFIG.read_text()
    for old, new in replacements:
        assert old in text
        text = text.replace(old, new)
    return text + extra


def expect(tmp_path: Path, text: str, message: str) -> None:
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_config(p)
    assert str(exc.value) == f"{p}: {message}"


def test_a_pin_used_twice_names_both_keys(tmp_path: Path) -> None:
    expect(tmp_path, pi_text(("sck_pin = 19", "sck_pin = 22")),
           "outputs.red_pin: GPIO 22 is already used by mounts.bar_a_right.sck_pin; "
           "each pin may be used once")


def test_an_unknown_backend_names_the_key_and_the_choices(tmp_path: Path) -> None:
    expect(tmp_path, pi_text(('backend = "hx711"', 'backend = "spi"')),
           "rig.backend: Input should be 'sim', 'hx711' or 'iio'")


def test_the_i2c_pins_are_reserved_when_drv2605_uses_bus_1(tmp_path: Path) -> None:
    text = pi_text(('haptic = "pwm"', 'haptic = "drv2605"'), ("dout_pin = 20", "dout_pin = 2"),
                   extra=drv_tables(1))
    expect(tmp_path, text, "mounts.bar_b_left.dout_pin: GPIO 2 is already used by "
                           "haptics (I2C bus 1 SDA); each pin may be used once")


def test_drv2605_without_haptics_tables_is_refused(tmp_path: Path) -> None:
    expect(tmp_path, pi_text(('haptic = "pwm"', 'haptic = "drv2605"')),
           "haptics: add a [haptics.<grip>] table per DRV2605L when outputs.haptic = 'drv2605'")


def test_haptics_tables_without_drv2605_are_refused(tmp_path: Path) -> None:
    expect(tmp_path, pi_text(extra=DRV_TABLES),
           "haptics.left_grip: set outputs.haptic = 'drv2605' to use DRV2605L devices")


def test_two_grips_on_one_bus_channel_and_address_are_refused(tmp_path: Path) -> None:
    text = pi_text(('haptic = "pwm"', 'haptic = "drv2605"'),
                   extra=DRV_TABLES.replace("mux_channel = 1", "mux_channel = 0"))
    p = write(tmp_path, text)
    with pytest.raises(ConfigError, match=re.escape(
            f"{p}: haptics.right_grip: same bus, mux channel and address as haptics.left_grip")):
        load_config(p)


def test_a_mux_address_without_a_channel_is_refused(tmp_path: Path) -> None:
    text = pi_text(('haptic = "pwm"', 'haptic = "drv2605"'),
                   extra=DRV_TABLES.replace("mux_channel = 1\n", ""))
    expect(tmp_path, text,
           "haptics.right_grip: mux_address and mux_channel go together (both or neither)")


def test_a_missing_i2c_bus_stops_start_up_naming_the_key(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, pi_text(('haptic = "pwm"', 'haptic = "drv2605"'),
                                              extra=DRV_TABLES)))
    dev = tmp_path / "dev"
    dev.mkdir()
    with pytest.raises(ConfigError) as exc:
        build_outputs(cfg, mock_pin_factory(), lambda n: None, dev)
    assert str(exc.value).startswith(f"haptics.left_grip.bus: {dev}/i2c-3 does not exist - "
                                     "enable I2C")
