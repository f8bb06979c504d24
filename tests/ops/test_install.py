"""The systemd units and ``make install`` into a throw-away root (DESTDIR)."""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from rigctl.cli import build_parser

REPO = Path(__file__).resolve().parents[2]
UNITS = ("rigctl-core.service", "rigctl-api.service")


def unit_settings(text: str) -> dict[str, list[str]]:
    """``Section.Key`` -> values (systemd allows repeated keys)."""
    out: dict[str, list[str]] = {}
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        out.setdefault(f"{section}.{key}", []).append(value)
    return out


def systemd_analyze() -> str:
    path = shutil.which("systemd-analyze")
    if path is None:
        pytest.fail("systemd-analyze is missing (apt-get install systemd; .ci/run does it)")
    return path


def verify(unit_dir: Path, rigctl_bin: Path, tmp: Path) -> subprocess.CompletedProcess[str]:
    """``systemd-analyze verify`` both units, ExecStart pointed at a rigctl that exists here."""
    tmp.mkdir(parents=True, exist_ok=True)
    for u in UNITS:
        text = (unit_dir / u).read_text().replace("/opt/rigctl/bin/rigctl", str(rigctl_bin))
        (tmp / u).write_text(text)
    return subprocess.run([systemd_analyze(), "verify", *(str(tmp / u) for u in UNITS)],
                          capture_output=True, text=True, timeout=60)


# -- the units ------------------------------------------------------------------------

def test_units_pass_systemd_analyze_verify_with_no_warning(tmp_path: Path) -> None:
    r = verify(REPO / "systemd", Path(sys.prefix) / "bin" / "rigctl", tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout + r.stderr == ""  # unknown keys are only warnings: none allowed


def test_units_are_hardened_to_systemds_ok_exposure(tmp_path: Path) -> None:
    for u in UNITS:
        (tmp_path / u).write_text((REPO / "systemd" / u).read_text().replace(
            "/opt/rigctl/bin/rigctl", str(Path(sys.prefix) / "bin" / "rigctl")))
        r = subprocess.run([systemd_analyze(), "security", "--offline=true", "--threshold=25",
                            str(tmp_path / u)], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout[-2000:]  # exposure <= 2.5 of 10


def test_core_unit_is_notify_with_watchdog_realtime_devices_and_state() -> None:
    s = unit_settings((REPO / "systemd" / "rigctl-core.service").read_text())
    assert s["Service.Type"] == ["notify"]
    assert s["Service.NotifyAccess"] == ["main"]
    assert s["Service.WatchdogSec"] == ["1s"]
    assert s["Service.Restart"] == ["always"]
    assert s["Service.LimitRTPRIO"] == ["99"]
    assert s["Service.RestrictRealtime"] == ["no"]
    assert s["Service.SupplementaryGroups"] == ["gpio i2c"]
    assert s["Service.StateDirectory"] == ["rigctl"]
    assert s["Service.ConfigurationDirectory"] == ["rigctl"]
    assert s["Service.DevicePolicy"] == ["closed"]
    assert {"char-gpiochip rw", "char-i2c rw"} <= set(s["Service.DeviceAllow"])
    assert "Service.PrivateDevices" not in s  # it would hide /dev/gpiochip* and /dev/i2c-*
    assert s["Service.ProtectSystem"] == ["strict"]
    # lgpio writes FIFOs into the working directory: it must be a writable one
    assert s["Service.RuntimeDirectory"] == ["rigctl"]
    assert s["Service.WorkingDirectory"] == ["/run/rigctl"]
    assert s["Install.WantedBy"] == ["multi-user.target"]


def test_api_unit_starts_after_the_core_and_survives_it() -> None:
    s = unit_settings((REPO / "systemd" / "rigctl-api.service").read_text())
    assert "rigctl-core.service" in s["Unit.After"][0].split()
    assert s["Unit.Wants"] == ["rigctl-core.service"]
    assert "Unit.Requires" not in s and "Unit.BindsTo" not in s  # a core restart keeps the API
    assert s["Service.Restart"] == ["always"]
    assert s["Service.PrivateDevices"] == ["yes"]
    assert s["Service.StateDirectory"] == ["rigctl"]


@pytest.mark.parametrize("unit,command", [("rigctl-core.service", "core"),
                                          ("rigctl-api.service", "api")])
def test_execstart_is_a_command_line_rigctl_accepts(unit: str, command: str) -> None:
    s = unit_settings((REPO / "systemd" / unit).read_text())
    argv = shlex.split(s["Service.ExecStart"][0])
    assert argv[0] == "/opt/rigctl/bin/rigctl"
    args = build_parser().parse_args(argv[1:])
    assert args.command == command
    assert str(args.config) == "/etc/rigctl/rigctl.toml"
    assert str(args.state_dir) == "/var/lib/rigctl"


# -- make install into a DESTDIR ----------------------------------------------------------

@dataclass
class Staged:
    root: Path
    output: str


def make(target: str, destdir: Path) -> str:
    r = subprocess.run(["make", "-C", str(REPO), target, f"DESTDIR={destdir}"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r.stdout


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Staged]:
    root = tmp_path_factory.mktemp("destdir")
    yield Staged(root, make("install", root))
    shutil.rmtree(root, ignore_errors=True)


def test_install_stages_venv_config_units_and_command(staged: Staged) -> None:
    root = staged.root
    venv = root / "opt/rigctl"
    assert (venv / "bin/rigctl").is_file()
    assert os.readlink(root / "usr/local/bin/rigctl") == "/opt/rigctl/bin/rigctl"
    conf = root / "etc/rigctl/rigctl.toml"
    assert conf.read_text() == (REPO / "config/rigctl.toml").read_text()
    assert stat.S_IMODE(conf.stat().st_mode) == 0o640  # may hold the MQTT password
    for u in UNITS:
        assert (root / "etc/systemd/system" / u).read_text() == (REPO / "systemd" / u).read_text()
    assert not (root / "etc/systemd/system/multi-user.target.wants").exists()  # DESTDIR: no enable
    assert (venv / "share/config/sim.toml").is_file()


def test_installed_venv_runs_from_opt_rigctl_once_copied(staged: Staged) -> None:
    venv = staged.root / "opt/rigctl"
    assert (venv / "bin/rigctl").read_text().splitlines()[0] == "#!/opt/rigctl/bin/python"
    for f in [venv / "pyvenv.cfg", *(venv / "bin").iterdir()]:
        if f.is_file() and not f.is_symlink():
            data = f.read_bytes()
            assert str(staged.root).encode() not in data, f
    # the venv's own python finds its packages wherever the tree is (pyvenv.cfg beside it)
    r = subprocess.run([str(venv / "bin/python"), "-c",
                        "import rigctl.cli, rigctl.telemetry.mqtt, paho.mqtt, prometheus_client;"
                        "import sys; rigctl.cli.main(['--version'])"],
                       capture_output=True, text=True, timeout=60)
    assert "rigctl 0.1.0" in r.stdout + r.stderr


def test_installed_units_verify_against_the_staged_binary(staged: Staged, tmp_path: Path) -> None:
    r = verify(staged.root / "etc/systemd/system", staged.root / "opt/rigctl/bin/rigctl",
               tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout + r.stderr == ""


def test_install_prints_how_to_make_the_first_admin_token(staged: Staged) -> None:
    line = next(x.strip() for x in staged.output.splitlines() if "token create" in x)
    argv = shlex.split(line)
    assert argv[:4] == ["sudo", "-u", "rigctl", "/opt/rigctl/bin/rigctl"]
    args = build_parser().parse_args(argv[4:])
    assert (args.command, args.token_command, args.role) == ("token", "create", "admin")
    assert str(args.state_dir) == "/var/lib/rigctl"


def test_reinstall_keeps_the_edited_config_and_uninstall_keeps_config_and_state(
        staged: Staged) -> None:
    conf = staged.root / "etc/rigctl/rigctl.toml"
    conf.write_text(conf.read_text().replace('name = "rig-1"', 'name = "room-3"'))
    out = make("install", staged.root)
    assert "kept your /etc/rigctl/rigctl.toml" in out
    assert 'name = "room-3"' in conf.read_text()
    assert (staged.root / "etc/rigctl/rigctl.toml.dist").read_text() == (
        REPO / "config/rigctl.toml").read_text()
    # the new venv was built beside the old one and swapped in: nothing left over
    assert sorted(p.name for p in (staged.root / "opt").iterdir()) == ["rigctl"]
    r = subprocess.run([str(staged.root / "opt/rigctl/bin/python"), "-m", "rigctl", "--version"],
                       capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "rigctl 0.1.0"
    make("uninstall", staged.root)
    assert not (staged.root / "opt/rigctl").exists()
    assert not (staged.root / "usr/local/bin/rigctl").exists()
    for u in UNITS:
        assert not (staged.root / "etc/systemd/system" / u).exists()
    assert 'name = "room-3"' in conf.read_text()
