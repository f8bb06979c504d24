"""The hx711 backend against emulated HX711 chips on a fake RPi.GPIO."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rigctl.config import Config
from rigctl.core.controller import Controller
from rigctl.core.warning import State
from rigctl.sampling.slots import SAT_HIGH, SampleStatus
from tests.drivers.conftest import RecordingSlot, wait_for

Make = Callable[..., Any]


def _seq(src: Any) -> list[int]:
    return [s.sample.seq if s.sample is not None else 0 for s in src.slots]


def test_four_chips_deliver_at_least_75_samples_per_second_each(hx711_rig: Make) -> None:
    src, chips = hx711_rig()
    src.start()
    assert wait_for(lambda: all(s.sample is not None for s in src.slots))
    before, t0 = _seq(src), time.monotonic()
    time.sleep(3.0)
    after, t1 = _seq(src), time.monotonic()
    rates = [(a - b) / (t1 - t0) for a, b in zip(after, before, strict=True)]
    assert min(rates) >= 75.0, rates
    for chip in chips:
        assert chip.protocol_errors == 0
        assert set(chip.gains_selected) == {("A", 128)}  # one gain pulse: channel A, 128


def test_values_are_decoded_exactly_including_negatives_zero_and_minus_one(
        hx711_rig: Make) -> None:
    # 0 and -1 are the codes the package's get_raw_data() silently drops
    values = [-8_388_607, -1, 0, 8_388_606]
    src, _ = hx711_rig(values)
    src.start()
    assert wait_for(lambda: all(len(s.history) >= 5 for s in src.slots))
    for slot, v in zip(src.slots, values, strict=True):
        ok = [s.raw for s in slot.history if s.status is SampleStatus.OK]
        assert ok and set(ok) == {v}


def test_a_read_that_broke_the_60_us_rule_is_discarded_counted_and_never_used(
        hx711_rig: Make) -> None:
    src, chips = hx711_rig([250_000, 2000, 3000, 4000])
    src.start()
    slot: RecordingSlot = src.slots[0]
    chip = chips[0]
    assert wait_for(lambda: len(slot.history) >= 3)
    chip.value = 250_001
    chip.stall_on_pulse = 12  # PD_SCK held high ~300 us in the middle of the next read
    assert wait_for(lambda: src.counters()["bar_a_left"].get("timing", 0) >= 1)
    assert wait_for(lambda: sum(s.status is SampleStatus.OK and s.raw == 250_001
                                for s in slot.history) >= 3)
    assert chip.power_downs >= 1 and chip.garbage_values  # the chip reset and settled
    used = {s.raw for s in slot.history if s.status is SampleStatus.OK}
    assert used <= {250_000, 250_001}
    assert not used & set(chip.garbage_values)
    assert any(s.status is SampleStatus.TIMING for s in slot.history)
    assert src.counters()["bar_a_left"]["settling"] >= 1


def test_saturated_codes_are_published_as_saturated_and_fault_the_mount(
        hx711_rig: Make, pi_cfg: Config) -> None:
    src, chips = hx711_rig()
    src.start()
    chips[2].value = 50_000_000  # far beyond full scale: the chip outputs 0x7FFFFF
    slot: RecordingSlot = src.slots[2]
    assert wait_for(lambda: sum(s.status is SampleStatus.SATURATED for s in slot.history) >= 2)
    assert all(s.raw == SAT_HIGH for s in slot.history if s.status is SampleStatus.SATURATED)
    ctl = Controller(pi_cfg)
    now = time.monotonic_ns()
    ctl.start_session(40, 70, now)
    ctl.tick(now, src.poll(now))
    for _ in range(20):
        time.sleep(0.005)
        now = time.monotonic_ns()
        ctl.tick(now, src.poll(now))
    assert ctl.estimator.mount_fault[2] == "saturated"
    assert ctl.state is State.FAULT


def test_a_disconnected_chip_turns_stale_and_the_session_faults_within_stale_plus_one_tick(
        hx711_rig: Make, pi_cfg: Config) -> None:
    # 12 kg per mount (offset 0, 22000 counts/kg): therapist 70 kg -> foot load 22 kg, ok
    src, chips = hx711_rig([264_000] * 4)
    src.start()
    assert wait_for(lambda: all(s.sample is not None for s in src.slots))
    ctl = Controller(pi_cfg)
    tick = pi_cfg.tick_ns
    now = time.monotonic_ns()
    ctl.start_session(40, 70, now)
    healthy = 0
    deadline = now + 3_000_000_000
    while healthy < 40 and now < deadline:  # 200 ms of live ticks in state ok
        time.sleep(tick / 1e9)
        now = time.monotonic_ns()
        healthy = healthy + 1 if ctl.tick(now, src.poll(now)) is State.OK else 0
    # (a PD_SCK timing violation on a loaded machine can fault a mount briefly)
    assert healthy == 40, src.counters()
    chips[1].disconnected = True
    time.sleep(0.15)  # long enough for several conversions that never come
    samples = src.poll(0)
    last = samples[1]
    assert last is not None
    assert last.t_ns < time.monotonic_ns() - 100_000_000  # nothing new since the disconnect
    assert src.counters()["bar_a_right"].get("not_ready", 0) == 1
    # Continue ticking at 200 Hz from the last live tick, in the controller's time.
    stale_ns = int(pi_cfg.sampling.stale_after_ms * 1e6)
    faulted_at = None
    t = now
    while faulted_at is None and t < last.t_ns + 10 * stale_ns:
        t += tick
        state = ctl.tick(t, samples)
        if state is State.FAULT:
            faulted_at = t
        elif t - last.t_ns > stale_ns:
            raise AssertionError("stale for longer than stale_after_ms without a fault")
    assert faulted_at is not None
    assert faulted_at - last.t_ns <= stale_ns + tick
    assert ctl.estimator.mount_fault[1] == "stale"


def test_a_dout_shorted_low_is_never_read_as_a_zero_load(hx711_rig: Make) -> None:
    src, chips = hx711_rig()
    src.start()
    slot: RecordingSlot = src.slots[3]
    assert wait_for(lambda: len(slot.history) >= 2)
    chips[3].dout_stuck_low = True
    n = len(slot.history)
    assert wait_for(lambda: src.counters()["bar_b_right"].get("read_error", 0) >= 3)
    assert all(s.status is SampleStatus.ERROR for s in slot.history[n + 1:])
