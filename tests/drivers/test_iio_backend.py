"""The kernel-IIO backend against a fake sysfs tree."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rigctl.backends.iio import IioPacer, IioSource, decode_offset_binary, find_device
from rigctl.config import Config, ConfigError, parse_config
from rigctl.emulators.iio_sysfs import FakeIioTree
from rigctl.sampling.slots import SAT_HIGH, SAT_LOW, SampleStatus
from tests.drivers.conftest import wait_for

MOUNTS = ("bar_a_left", "bar_a_right", "bar_b_left", "bar_b_right")


def iio_cfg(devices: dict[str, str]) -> Config:
    return parse_config({
        "rig": {"backend": "iio"},
        "mounts": {m: {"bar": m[4], "iio_device": d} for m, d in devices.items()},
    })


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[FakeIioTree]:
    t = FakeIioTree(tmp_path / "iio")
    yield t
    t.stop()


@pytest.fixture
def sources() -> Iterator[list[IioSource]]:
    made: list[IioSource] = []
    yield made
    for s in made:
        s.stop()


def test_offset_binary_is_turned_back_into_signed_counts() -> None:
    assert decode_offset_binary(0x800000) == (0, SampleStatus.OK)
    assert decode_offset_binary(0x7FFFFF) == (-1, SampleStatus.OK)
    assert decode_offset_binary(0x800000 + 123_456) == (123_456, SampleStatus.OK)
    assert decode_offset_binary(0xFFFFFF) == (SAT_HIGH, SampleStatus.SATURATED)
    assert decode_offset_binary(0) == (SAT_LOW, SampleStatus.SATURATED)


def test_devices_are_found_by_label_then_directory_then_unique_name(tree: FakeIioTree) -> None:
    a = tree.add("bar_a_left")
    b = tree.add("bar_a_right")
    c = tree.add(None, name="hx711-extra")
    d = tree.add(None, node="hx711-bar-b-left")
    assert find_device(tree.root, "bar_a_right", "k") == b
    assert find_device(tree.root, a.name, "k") == a
    assert find_device(tree.root, "hx711-extra", "k") == c
    assert find_device(tree.root, "hx711-bar-b-left", "k") == d
    with pytest.raises(ConfigError, match=r"^k: 3 IIO devices are named 'hx711'; give each"):
        find_device(tree.root, "hx711", "k")
    with pytest.raises(ConfigError, match=r"^k: no IIO device labelled or named 'nope' .*"
                                          r"is the hx711 overlay loaded"):
        find_device(tree.root, "nope", "k")


def test_a_missing_device_stops_start_up_naming_the_mount_key(tree: FakeIioTree) -> None:
    for m in MOUNTS[:3]:
        tree.add(m)
    cfg = iio_cfg({m: m for m in MOUNTS})
    with pytest.raises(ConfigError, match=r"^mounts\.bar_b_right\.iio_device: no IIO device"):
        IioSource(cfg, tree.root)


def test_values_flow_decoded_at_the_conversion_rate(
        tree: FakeIioTree, sources: list[IioSource]) -> None:
    values = [-250_000, -1, 0, 4_000_000]
    for m, v in zip(MOUNTS, values, strict=True):
        tree.add(m, v)
    tree.start()
    src = IioSource(iio_cfg({m: m for m in MOUNTS}), tree.root)
    sources.append(src)
    src.start()
    assert wait_for(lambda: all(s.sample is not None and s.sample.seq > 20 for s in src.slots))
    samples: list[Any] = src.poll(0)
    assert [s.raw for s in samples] == values
    assert all(s.status is SampleStatus.OK for s in samples)
    before = [s.seq for s in samples]
    time.sleep(0.5)
    rates = [(s.sample.seq - b) / 0.5 for s, b in zip(src.slots, before, strict=True)]
    assert all(60 <= r <= 100 for r in rates), rates  # paced at ~80/s, not a busy loop


def test_a_failing_device_is_counted_and_publishes_no_good_sample(
        tree: FakeIioTree, sources: list[IioSource]) -> None:
    for m in MOUNTS:
        tree.add(m, 1000)
    tree.start()
    src = IioSource(iio_cfg({m: m for m in MOUNTS}), tree.root)
    sources.append(src)
    src.start()
    assert wait_for(lambda: all(s.sample is not None for s in src.slots))
    tree.disconnect("bar_b_left")
    assert wait_for(lambda: src.counters()["bar_b_left"].get("read_error", 0) >= 3)
    s = src.poll(0)[2]
    assert s is not None and s.status is SampleStatus.ERROR
    assert src.samplers[2].last_error is not None
    tree.reconnect("bar_b_left")
    assert wait_for(lambda: (x := src.poll(0)[2]) is not None and x.status is SampleStatus.OK)


def test_pacer_reads_once_per_period_and_backs_off_after_an_early_read() -> None:
    p = IioPacer(period_ns=12_500_000)
    # quick read (data was waiting): next one a period after the call, a little earlier
    assert p.next_call_ns(0, 200_000) == 12_500_000 - 50_000
    # slow read (the kernel slept 10+ ms: we were early): a period after it returned + margin
    assert p.next_call_ns(0, 14_000_000) == 14_000_000 + 12_500_000 + 300_000
    # never schedule in the past
    assert p.next_call_ns(0, 2_900_000) >= 2_900_000
