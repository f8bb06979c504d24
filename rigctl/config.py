"""Rig configuration: TOML read with tomllib into typed, validated models.

A bad key, type or range stops start-up with one line naming the file, the key
and what is allowed (``ConfigError``), never a traceback: an installer reads it
on a Pi over ssh.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_SIM_CONFIG = PACKAGE_DIR.parent / "config" / "sim.toml"

Pin = Annotated[int, Field(ge=0, le=27, description="BCM GPIO number")]


class ConfigError(Exception):
    """A configuration problem, phrased for the person who edits the file."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RigSection(_Model):
    name: str = Field("rig", min_length=1, max_length=80)
    backend: Literal["sim", "hx711", "iio"] = "sim"


class LoopSection(_Model):
    rate_hz: int = Field(200, ge=50, le=1000)
    sched_fifo: bool = True
    fifo_priority: int = Field(50, ge=1, le=99)
    overrun_fault_streak: int = Field(5, ge=1, le=1000)
    spin_us: int = Field(300, ge=0, le=2000)


class SamplingSection(_Model):
    sps: float = Field(80.0, gt=0, le=1000)
    stale_after_ms: float = Field(60.0, ge=5, le=5000)
    implausible_below_kg: float = Field(-2.0, le=0)
    stuck_after_s: float = Field(1.0, ge=0.1, le=60)
    saturated_fault_after: int = Field(2, ge=1, le=100)


class WarningSection(_Model):
    """Thresholds and dwell times of the warning state machine (DESIGN section 6)."""

    caution_fraction: float = Field(0.80, gt=0, lt=1)
    predict_horizon_ms: float = Field(150.0, ge=0, le=2000)
    rate_window_ms: float = Field(50.0, ge=5, le=1000)
    over_dwell_ms: float = Field(50.0, ge=0, le=2000)
    over_immediate_fraction: float = Field(1.20, ge=1, le=3)
    clear_ms: float = Field(300.0, ge=0, le=10000)
    hysteresis_fraction: float = Field(0.05, ge=0, le=0.5)
    hysteresis_min_kg: float = Field(1.5, ge=0, le=50)
    overload_fraction: float = Field(0.80, gt=0, le=1)
    fault_clear_ms: float = Field(300.0, ge=0, le=10000)
    ease_min_ms: float = Field(3000.0, ge=0, le=60000)
    ease_drop_fraction: float = Field(0.20, gt=0, lt=1)
    ease_peak_window_ms: float = Field(2000.0, ge=0, le=10000)
    limit_min_kg: float = Field(5.0, ge=0, le=500)
    limit_max_kg: float = Field(120.0, ge=1, le=500)

    @model_validator(mode="after")
    def _limits_ordered(self) -> WarningSection:
        if self.limit_min_kg >= self.limit_max_kg:
            raise ValueError("limit_min_kg must be below limit_max_kg")
        return self


class MountSection(_Model):
    """One load cell + HX711 in a bar mount, with its default calibration."""

    bar: str = Field(min_length=1, max_length=40)
    capacity_kg: float = Field(150.0, gt=0, le=2000)
    offset: float = Field(0.0, description="raw counts with the bar unloaded (tared)")
    scale: float = Field(22000.0, description="raw counts per kg")
    dout_pin: Pin | None = None
    sck_pin: Pin | None = None
    iio_device: str | None = Field(None, description="IIO device name or label")

    @model_validator(mode="after")
    def _scale_nonzero(self) -> MountSection:
        if abs(self.scale) < 1.0:
            raise ValueError("scale must be at least 1 count per kg in magnitude")
        return self


class OutputsSection(_Model):
    green_pin: Pin | None = 17
    amber_pin: Pin | None = 27
    red_pin: Pin | None = 22
    buzzer_pin: Pin | None = 23
    buzzer_kind: Literal["active", "tonal"] = "active"
    haptic: Literal["none", "pwm", "drv2605"] = "pwm"
    haptic_pin: Pin | None = 18


class HapticDeviceSection(_Model):
    """A DRV2605L in one bar grip (``[haptics.<grip>]``), used when outputs.haptic = 'drv2605'."""

    bus: int = Field(1, ge=0, le=31, description="I2C bus number: /dev/i2c-<bus>")
    address: int = Field(0x5A, ge=0x03, le=0x77, description="7-bit I2C address")
    mux_address: int | None = Field(None, ge=0x70, le=0x77,
                                    description="TCA9548A multiplexer address, if any")
    mux_channel: int | None = Field(None, ge=0, le=7)
    actuator: Literal["erm", "lra"] = "erm"
    library: int | None = Field(None, ge=1, le=7,
                                description="ROM library (ERM: 1-5 or 7; LRA: 6)")

    @model_validator(mode="after")
    def _mux_and_library(self) -> HapticDeviceSection:
        if (self.mux_address is None) != (self.mux_channel is None):
            raise ValueError("mux_address and mux_channel go together (both or neither)")
        if self.actuator == "lra" and self.library not in (None, 6):
            raise ValueError("library must be 6 (the LRA library) with actuator = 'lra'")
        if self.actuator == "erm" and self.library == 6:
            raise ValueError("library 6 is the LRA library; ERM libraries are 1-5 and 7")
        return self


class InputsSection(_Model):
    """Buttons. The comfort button is held by the client: a press raises ``ease``."""

    comfort_pin: Pin | None = None
    comfort_pull_up: bool = True  # button to ground, internal pull-up
    comfort_bounce_ms: float = Field(20.0, ge=0, le=500)


class SimSection(_Model):
    noise_kg: float = Field(0.02, ge=0, le=10)
    jitter_us: float = Field(300.0, ge=0, le=5000)
    seed: int = 1
    scale_error: float = Field(0.0, ge=0, le=0.2)
    offset_error_kg: float = Field(0.0, ge=0, le=50)
    scenario: str = "demo"
    loop_scenario: bool = True


class CalibrationSection(_Model):
    """Installer calibration and weigh-in rules (DESIGN section 5, ``rigctl.calibration``)."""

    factory_file: str | None = Field(
        None, description="calibration used until one is committed in the state directory: "
        "a built-in name ('sim') or a JSON file path (relative to this config file)")
    tare_s: float = Field(1.0, ge=0.2, le=10)
    tare_spread_kg: float = Field(0.3, gt=0, le=10)
    point_s: float = Field(1.0, ge=0.2, le=10)
    point_spread_kg: float = Field(0.2, gt=0, le=10)
    settle_timeout_s: float = Field(10.0, ge=1, le=120)
    residual_tolerance_kg: float = Field(0.2, gt=0, le=10)
    scale_ratio_min: float = Field(0.5, gt=0, le=1)
    scale_ratio_max: float = Field(2.0, ge=1, le=100)
    retare_max_kg: float = Field(5.0, ge=0, le=50)
    verify_tolerance_pct: float = Field(0.5, gt=0, le=20)
    weigh_in_window_s: float = Field(2.0, ge=0.5, le=10)
    weigh_in_spread_kg: float = Field(0.5, gt=0, le=5)
    weigh_in_timeout_s: float = Field(10.0, ge=1, le=120)
    weigh_in_min_kg: float = Field(30.0, ge=1, le=300)

    @model_validator(mode="after")
    def _windows_fit(self) -> CalibrationSection:
        if self.point_s >= self.settle_timeout_s:
            raise ValueError("point_s must be below settle_timeout_s")
        if self.weigh_in_window_s >= self.weigh_in_timeout_s:
            raise ValueError("weigh_in_window_s must be below weigh_in_timeout_s")
        return self


class DemoSection(_Model):
    """The session `rigctl run` starts on the sim rig."""

    start_session: bool = True
    limit_kg: float = Field(40.0, gt=0, le=500)
    therapist_kg: float = Field(70.0, gt=0, le=500)


_TOPIC_LEVELS = r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$"


class MqttSection(_Model):
    """Fleet telemetry to the clinic's MQTT broker; off unless ``enabled`` (rigctl.telemetry)."""

    enabled: bool = False
    host: str = Field("localhost", min_length=1, max_length=253)
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = Field(None, min_length=1, max_length=256)
    password: str | None = Field(None, max_length=256)
    client_id: str | None = Field(None, min_length=1, max_length=64,
                                  description="default: rigctl-<rig id>")
    topic_prefix: str = Field("rigctl", max_length=100, pattern=_TOPIC_LEVELS)
    discovery: bool = True
    discovery_prefix: str = Field("homeassistant", max_length=100, pattern=_TOPIC_LEVELS)
    keepalive_s: int = Field(30, ge=5, le=3600)
    load_interval_ms: int = Field(200, ge=200, le=60000)
    reconnect_max_s: int = Field(30, ge=1, le=600)

    @model_validator(mode="after")
    def _password_needs_user(self) -> MqttSection:
        if self.password is not None and self.username is None:
            raise ValueError("password is set but username is not")
        return self


class Config(_Model):
    rig: RigSection = RigSection()
    loop: LoopSection = LoopSection()
    sampling: SamplingSection = SamplingSection()
    warning: WarningSection = WarningSection()
    mounts: dict[str, MountSection]
    outputs: OutputsSection = OutputsSection()
    haptics: dict[str, HapticDeviceSection] = {}
    inputs: InputsSection = InputsSection()
    sim: SimSection = SimSection()
    demo: DemoSection = DemoSection()
    mqtt: MqttSection = MqttSection()
    calibration: CalibrationSection = CalibrationSection()

    @model_validator(mode="after")
    def _check_rig(self) -> Config:
        if not 1 <= len(self.mounts) <= 16:
            raise ValueError("mounts: between 1 and 16 mounts are allowed")
        for name in self.mounts:
            if not name.replace("_", "").isalnum() or len(name) > 40:
                raise ValueError(
                    f"mounts.{name}: mount names are letters, digits and '_' (1-40 chars)"
                )
        self._check_pins()
        if self.rig.backend == "hx711":
            for name, m in self.mounts.items():
                if m.dout_pin is None or m.sck_pin is None:
                    raise ValueError(f"mounts.{name}: dout_pin and sck_pin are required "
                                     "with backend 'hx711'")
        if self.rig.backend == "iio":
            for name, m in self.mounts.items():
                if not m.iio_device:
                    raise ValueError(f"mounts.{name}.iio_device is required with backend 'iio'")
        if self.outputs.haptic == "pwm" and self.outputs.haptic_pin is None:
            raise ValueError("outputs.haptic_pin is required when outputs.haptic = 'pwm'")
        self._check_haptics()
        return self

    def _check_haptics(self) -> None:
        if self.outputs.haptic == "drv2605" and not self.haptics:
            raise ValueError("haptics: add a [haptics.<grip>] table per DRV2605L when "
                             "outputs.haptic = 'drv2605'")
        seen: dict[tuple[int, int | None, int | None, int], str] = {}
        for grip, h in self.haptics.items():
            if self.outputs.haptic != "drv2605":
                raise ValueError(f"haptics.{grip}: set outputs.haptic = 'drv2605' to use "
                                 "DRV2605L devices")
            if not grip.replace("_", "").isalnum() or len(grip) > 40:
                raise ValueError(f"haptics.{grip}: grip names are letters, digits and '_'")
            where = (h.bus, h.mux_address, h.mux_channel, h.address)
            if where in seen:
                raise ValueError(f"haptics.{grip}: same bus, mux channel and address as "
                                 f"haptics.{seen[where]}; two DRV2605L need two buses or "
                                 "two channels of a TCA9548A")
            seen[where] = grip

    def _check_pins(self) -> None:
        used: dict[int, str] = {}
        pins: list[tuple[str, int | None]] = []
        for name, m in self.mounts.items():
            pins += [(f"mounts.{name}.dout_pin", m.dout_pin), (f"mounts.{name}.sck_pin", m.sck_pin)]
        o = self.outputs
        pins += [("outputs.green_pin", o.green_pin), ("outputs.amber_pin", o.amber_pin),
                 ("outputs.red_pin", o.red_pin), ("outputs.buzzer_pin", o.buzzer_pin)]
        if o.haptic == "pwm":
            pins.append(("outputs.haptic_pin", o.haptic_pin))
        pins.append(("inputs.comfort_pin", self.inputs.comfort_pin))
        if o.haptic == "drv2605" and any(h.bus == 1 for h in self.haptics.values()):
            # I2C bus 1 is fixed to GPIO 2 (SDA) and 3 (SCL) on the 40-pin header
            pins = [("haptics (I2C bus 1 SDA)", 2), ("haptics (I2C bus 1 SCL)", 3), *pins]
        for key, pin in pins:
            if pin is None:
                continue
            if pin in used:
                raise ValueError(f"{key}: GPIO {pin} is already used by {used[pin]}; "
                                 "each pin may be used once")
            used[pin] = key

    @property
    def mount_names(self) -> tuple[str, ...]:
        return tuple(self.mounts)

    @property
    def tick_ns(self) -> int:
        return 1_000_000_000 // self.loop.rate_hz


def _format_error(path: Path | str, err: ValidationError) -> str:
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"])
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown key (check the spelling; see config/sim.toml for the keys allowed)"
    elif msg.startswith("Value error, "):
        msg = msg.removeprefix("Value error, ")
    if loc:
        return f"{path}: {loc}: {msg}"
    return f"{path}: {msg}"


def parse_config(data: dict[str, Any], source: Path | str = "<config>") -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_error(source, err)) from None


def load_config(path: Path | str | None = None) -> Config:
    """Read and validate a config file; ``None`` means the shipped sim config."""
    p = Path(path) if path is not None else DEFAULT_SIM_CONFIG
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise ConfigError(f"{p}: cannot read config: {e.strerror or e}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{p}: not valid TOML: {e}") from None
    cal = data.get("calibration")
    fac = cal.get("factory_file") if isinstance(cal, dict) else None
    if isinstance(cal, dict) and isinstance(fac, str) and ("/" in fac or fac.endswith(".json")):
        # a path is relative to the config file (a bare name is built in: "sim")
        cal["factory_file"] = str(p.parent / fac)
    return parse_config(data, p)
