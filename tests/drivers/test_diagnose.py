"""``rigctl diagnose``: figures per mount and plain sentences for what is wrong."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rigctl.cli import main
from rigctl.commands.diagnose import MountReport, assess, check_haptics
from rigctl.config import load_config
from rigctl.emulators.drv2605_smbus import FakeI2C
from tests.drivers.conftest import PI_CONFIG, ROOT, drv_tables

DRV = drv_tables(1)


def drv_config(tmp_path: Path, base: Path) -> Path:
    text = base.read_text().replace('haptic = "pwm"', 'haptic = "drv2605"') + DRV
    p = tmp_path / "drv.toml"
    p.write_text(text)
    return p


def test_a_silent_amplifier_is_named_with_its_pins_and_the_exit_is_1(
        capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["diagnose", "--config", str(PI_CONFIG), "--emulate", "--seconds", "1",
               "--emulate-disconnect", "bar_a_left"])
    out = capsys.readouterr().out
    assert rc == 1
    assert ("bar_a_left: no data for 1.0 s - check DOUT wiring on GPIO 5 and PD_SCK on GPIO 6"
            in out)
    assert "bar_a_right: no data" not in out
    assert "RPi.GPIO" not in sys.modules  # the emulator does not outlive --emulate


def test_sim_rig_with_emulated_drv2605l_grips_passes_and_shows_chip_ids(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sim_cfg = ROOT / "config" / "sim.toml"
    rc = main(["diagnose", "--config", str(drv_config(tmp_path, sim_cfg)), "--emulate",
               "--seconds", "0.5"])
    out = capsys.readouterr().out
    assert "haptic left_grip: DRV2605L (chip id 7) at 0x5a on /dev/i2c-1 via mux 0x70 " \
           "channel 0" in out
    assert "haptic right_grip: DRV2605L (chip id 7)" in out
    for mount in ("bar_a_left", "bar_a_right", "bar_b_left", "bar_b_right"):
        assert mount in out
    assert rc == 0 and "all checks passed" in out


def test_a_grip_that_does_not_answer_is_a_problem(tmp_path: Path) -> None:
    cfg = load_config(drv_config(tmp_path, PI_CONFIG))
    fake = FakeI2C()
    fake.bus(1).add_mux(0x70)  # the multiplexer answers, the drivers are not there
    (tmp_path / "i2c-1").touch()
    rows, problems = check_haptics(cfg, fake.open, tmp_path)
    assert [r["chip_id"] for r in rows] == [None, None]
    assert problems[0] == ("left_grip: no answer from the DRV2605L at 0x5a on /dev/i2c-1 via "
                           "mux 0x70 channel 0 (Remote I/O error) - check SDA/SCL wiring, 3.3 V "
                           "and the mux channel")


def report(name: str = "bar_b_left", good: int = 400, raws: list[int] | None = None,
           **faults: int) -> MountReport:
    r = MountReport(name, 80.0, 5.0, good=good)
    r.raws = raws if raws is not None else [110_000 + (i % 7) * 30 for i in range(good)]
    r.driver = dict(faults)
    return r


def test_a_10_sps_board_is_told_to_tie_rate_high() -> None:
    cfg = load_config(PI_CONFIG)
    assert assess([report(good=50)], cfg) == [
        "bar_b_left: 10.0 samples/s, configured 80 - is the HX711 board's RATE pin tied high "
        "(80 SPS)?"]


def test_saturation_stuck_values_and_noise_each_get_their_sentence() -> None:
    cfg = load_config(PI_CONFIG)
    assert assess([report(saturated=3)], cfg) == [
        "bar_b_left: 3 saturated readings - load beyond the amplifier's range or a loose cell "
        "wire (E+, E-, A+, A-)"]
    assert assess([report(raws=[4242] * 400)], cfg) == [
        "bar_b_left: every reading is 4242 - a stuck amplifier or a shorted input"]
    noisy = [110_000 + (22_000 if i % 2 else -22_000) for i in range(400)]  # +-1 kg
    assert assess([report(raws=noisy)], cfg) == [
        "bar_b_left: noise 1.00 kg rms - check the cell cable shield, ground and E+/E- supply"]
    assert assess([report()], cfg) == []


def test_without_rpi_gpio_the_hx711_backend_fails_with_one_line_naming_the_fix() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "rigctl", "diagnose", "--config", str(PI_CONFIG),
         "--seconds", "0.1"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "rigctl: rig.backend: 'hx711' needs the RPi.GPIO module, which is missing (You "
        "probably have to install RPi.GPIO). On the Pi run: pip install 'rigctl[pi]' (see "
        "README, Installers)"]
