"""Builds the output sinks the config asks for."""

from __future__ import annotations

from typing import Any

from rigctl.config import Config
from rigctl.outputs.base import OutputSink
from rigctl.outputs.gpio import CompositeOutputs, GpioOutputs


def build_outputs(cfg: Config, pin_factory: Any) -> OutputSink:
    sinks: list[OutputSink] = [GpioOutputs(cfg.outputs, pin_factory)]
    return CompositeOutputs(sinks)
