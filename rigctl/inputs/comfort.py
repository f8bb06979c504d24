"""The client's comfort button (gpiozero ``Button``, debounced here).

A contact bounces for a few milliseconds when pressed. gpiozero's own
``bounce_time`` is done by the pin library (lgpio on a Pi) and not at all by
mock pins, so the debounce lives here, in one place, for every pin factory: a
press within ``comfort_bounce_ms`` of the last accepted one is the same press.

gpiozero calls ``when_pressed`` from its own edge thread; the press is handed
to the core without blocking (``Core.press_ease``) and the loop raises
``ease`` at its next tick.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rigctl.config import InputsSection


class ComfortButton:
    def __init__(self, cfg: InputsSection, on_press: Callable[[], None],
                 pin_factory: Any = None) -> None:
        from gpiozero import Button

        if cfg.comfort_pin is None:
            raise ValueError("inputs.comfort_pin is not set")
        self.presses = 0
        self.bounces = 0
        self._bounce_ns = int(cfg.comfort_bounce_ms * 1e6)
        self._last_ns: int | None = None
        self._on_press = on_press
        self.button = Button(cfg.comfort_pin, pull_up=cfg.comfort_pull_up,
                             pin_factory=pin_factory)
        self.button.when_pressed = self._pressed

    def _pressed(self) -> None:
        now = time.monotonic_ns()
        last = self._last_ns
        self._last_ns = now
        if last is not None and now - last < self._bounce_ns:
            self.bounces += 1
            return
        self.presses += 1
        self._on_press()

    def close(self) -> None:
        self.button.close()
