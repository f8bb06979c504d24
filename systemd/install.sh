#!/usr/bin/env bash
# Install or remove rigctl on a Raspberry Pi: `sudo make install` / `sudo make uninstall`.
#
#   venv        $PREFIX (default /opt/rigctl), rigctl and its dependencies
#   config      $SYSCONFDIR/rigctl.toml (default /etc/rigctl), never overwritten
#   units       $UNITDIR/rigctl-core.service, rigctl-api.service, enabled and started
#   command     $BINDIR/rigctl -> $PREFIX/bin/rigctl
#   user        rigctl (system user, groups gpio and i2c)
#
# With DESTDIR set, everything goes under $DESTDIR (a staging root for a
# package or a test): no user, no systemctl, and the venv is rewritten to
# run from $PREFIX once the tree is copied to /.
set -euo pipefail

ACTION=${1:-}
SRC=$(cd "$(dirname "$0")/.." && pwd)
DESTDIR=${DESTDIR:-}
DESTDIR=${DESTDIR%/}
PREFIX=${PREFIX:-/opt/rigctl}
SYSCONFDIR=${SYSCONFDIR:-/etc/rigctl}
UNITDIR=${UNITDIR:-/etc/systemd/system}
BINDIR=${BINDIR:-/usr/local/bin}
STATEDIR=/var/lib/rigctl
PY=${PY:-python3}
EXTRAS=${EXTRAS:-pi}
RIGCTL_USER=rigctl
UNITS=(rigctl-core.service rigctl-api.service)

say() { printf 'rigctl install: %s\n' "$*"; }
die() { printf 'rigctl install: error: %s\n' "$*" >&2; exit 1; }

have_systemd() { [ -z "$DESTDIR" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null; }

check_root() {
    if [ -z "$DESTDIR" ] && [ "$(id -u)" -ne 0 ]; then
        die "run as root: sudo make $ACTION (or set DESTDIR=/some/staging/root)"
    fi
}

# Copy a unit, pointing it at PREFIX and SYSCONFDIR when they are not the defaults.
install_unit() {
    local unit=$1
    sed -e "s|/opt/rigctl|$PREFIX|g" -e "s|/etc/rigctl|$SYSCONFDIR|g" \
        "$SRC/systemd/$unit" > "$DESTDIR$UNITDIR/$unit.tmp"
    chmod 0644 "$DESTDIR$UNITDIR/$unit.tmp"
    mv -f "$DESTDIR$UNITDIR/$unit.tmp" "$DESTDIR$UNITDIR/$unit"
}

# A venv is not relocatable: its scripts name its own path. It is built beside
# the target ($PREFIX.new), the paths rewritten to $PREFIX, byte-compiled as it
# will be seen at run time (the unit makes $PREFIX read-only), then swapped in:
# a failed upgrade (no network, a bad wheel) leaves the running venv untouched.
relocate_venv() {
    local from=$1 to=$2
    grep -rlIF -- "$from" "$from/bin" "$from/pyvenv.cfg" 2>/dev/null | while read -r f; do
        sed -i "s|$from|$to|g" "$f"
    done
    "$from/bin/python" -m compileall -q -f -s "$from" -p "$to" "$from/lib" >/dev/null
}

do_install() {
    check_root
    "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || die "$PY is older than 3.11 (Raspberry Pi OS bookworm or later is needed)"
    "$PY" -c 'import ensurepip, venv' 2>/dev/null \
        || die "$PY cannot create a venv: sudo apt install python3-venv"

    if [ -z "$DESTDIR" ]; then
        for g in gpio i2c; do
            getent group "$g" >/dev/null || groupadd --system "$g"
        done
        if ! id -u "$RIGCTL_USER" >/dev/null 2>&1; then
            useradd --system --user-group --home-dir "$STATEDIR" --no-create-home \
                --shell /usr/sbin/nologin --comment "rigctl rig controller" "$RIGCTL_USER"
            say "created system user $RIGCTL_USER"
        fi
        usermod -a -G gpio,i2c "$RIGCTL_USER"
        # systemd's StateDirectory= makes it too, but the first token is made before that
        install -d -m 0750 -o "$RIGCTL_USER" -g "$RIGCTL_USER" "$STATEDIR"
    fi

    local stage=$DESTDIR$PREFIX.new
    say "building the venv for $PREFIX"
    rm -rf "$stage"
    install -d -m 0755 "$(dirname "$stage")"
    "$PY" -m venv "$stage"
    # Build from a copy: pip builds in-tree and would leave root-owned build/
    # and *.egg-info in the installer's checkout.
    BUILD_DIR=$(mktemp -d)
    trap 'rm -rf "$BUILD_DIR"' EXIT
    (cd "$SRC" && tar --exclude=__pycache__ -cf - pyproject.toml rigctl \
        $(ls README.md LICENSE 2>/dev/null)) | tar -C "$BUILD_DIR" -xf -
    "$stage/bin/python" -m pip install --quiet --disable-pip-version-check --no-compile \
        "$BUILD_DIR[$EXTRAS]"
    if [ -z "$DESTDIR" ] && command -v runuser >/dev/null \
        && ! runuser -u "$RIGCTL_USER" -- "$stage/bin/python" -c pass 2>/dev/null
    then
        rm -rf "$stage"
        die "the $RIGCTL_USER user cannot run $("$PY" -c 'import sys; print(sys.executable)') \
(in a directory it may not enter?): install with PY=/usr/bin/python3"
    fi
    relocate_venv "$stage" "$PREFIX"
    install -m 0644 "$SRC/README.md" "$stage/README.md" 2>/dev/null || true
    install -d -m 0755 "$stage/share/config"
    install -m 0644 "$SRC/config/rigctl.toml" "$SRC/config/sim.toml" "$stage/share/config/"
    if [ -e "$DESTDIR$PREFIX" ]; then
        [ -e "$DESTDIR$PREFIX/pyvenv.cfg" ] || die "$PREFIX exists and is not a venv: not replacing it"
        rm -rf "$DESTDIR$PREFIX.old"
        mv "$DESTDIR$PREFIX" "$DESTDIR$PREFIX.old"
    fi
    mv "$stage" "$DESTDIR$PREFIX"
    rm -rf "$DESTDIR$PREFIX.old"
    say "installed rigctl into $DESTDIR$PREFIX"

    install -d -m 0755 "$DESTDIR$BINDIR"
    ln -sfn "$PREFIX/bin/rigctl" "$DESTDIR$BINDIR/rigctl"

    install -d -m 0750 "$DESTDIR$SYSCONFDIR"
    local conf=$DESTDIR$SYSCONFDIR/rigctl.toml
    if [ -e "$conf" ]; then
        install -m 0640 "$SRC/config/rigctl.toml" "$conf.dist"
        say "kept your $SYSCONFDIR/rigctl.toml; the new default is beside it as rigctl.toml.dist"
    else
        install -m 0640 "$SRC/config/rigctl.toml" "$conf"
        say "installed the default config $SYSCONFDIR/rigctl.toml"
    fi
    if [ -z "$DESTDIR" ]; then
        chgrp "$RIGCTL_USER" "$DESTDIR$SYSCONFDIR" "$conf" "$conf.dist" 2>/dev/null || true
    fi

    install -d -m 0755 "$DESTDIR$UNITDIR"
    for u in "${UNITS[@]}"; do install_unit "$u"; done

    if [ -n "$DESTDIR" ]; then
        say "staged in $DESTDIR; on the target: systemctl enable --now ${UNITS[*]}"
    elif have_systemd; then
        systemctl daemon-reload
        systemctl enable "${UNITS[@]}"
        systemctl restart "${UNITS[@]}"
        say "enabled and started ${UNITS[*]}"
    else
        systemctl enable "${UNITS[@]}" 2>/dev/null || true
        say "systemd is not running here: enabled, start them on the next boot"
    fi

    cat <<EOF

rigctl is installed.
  config:   $SYSCONFDIR/rigctl.toml  (check the pins and mounts, then: sudo systemctl restart rigctl-core)
  state:    $STATEDIR  (database, calibration, active session)
  logs:     journalctl -u rigctl-core -u rigctl-api -f
  status:   systemctl status rigctl-core rigctl-api

Create the first admin token (shown once; keep it in a password manager):
  sudo -u $RIGCTL_USER $PREFIX/bin/rigctl token create --role admin --state-dir $STATEDIR
EOF
}

do_uninstall() {
    check_root
    if have_systemd; then
        systemctl disable --now "${UNITS[@]}" 2>/dev/null || true
    elif [ -z "$DESTDIR" ]; then
        systemctl disable "${UNITS[@]}" 2>/dev/null || true
    fi
    for u in "${UNITS[@]}"; do rm -f "$DESTDIR$UNITDIR/$u"; done
    if have_systemd; then
        systemctl daemon-reload
    fi
    if [ "$(readlink "$DESTDIR$BINDIR/rigctl" 2>/dev/null)" = "$PREFIX/bin/rigctl" ]; then
        rm -f "$DESTDIR$BINDIR/rigctl"
    fi
    if [ -e "$DESTDIR$PREFIX/pyvenv.cfg" ]; then
        rm -rf "$DESTDIR$PREFIX"
    fi
    cat <<EOF
rigctl is uninstalled. Kept: $SYSCONFDIR (config), $STATEDIR (database, calibration)
and the $RIGCTL_USER user. To remove those too:
  sudo rm -rf $SYSCONFDIR $STATEDIR && sudo userdel $RIGCTL_USER
EOF
}

case "$ACTION" in
    install) do_install ;;
    uninstall) do_uninstall ;;
    *) die "usage: $0 install|uninstall" ;;
esac
