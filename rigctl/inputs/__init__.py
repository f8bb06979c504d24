"""Inputs from people: the client's comfort button."""

from __future__ import annotations

from typing import Any

from rigctl.config import Config


def attach_inputs(cfg: Config, core: Any, pin_factory: Any) -> list[Any]:
    """Build the configured buttons and connect them to ``core``; returns them for closing."""
    from rigctl.inputs.comfort import ComfortButton

    devices: list[Any] = []
    if cfg.inputs.comfort_pin is not None:
        devices.append(ComfortButton(cfg.inputs, core.press_ease, pin_factory))
    return devices
