#!/usr/bin/env bash
# Build the one-folder PyInstaller bundle dist/orbit-gui/ and smoke-test it.
#
# Usage (from anywhere): packaging/build.sh
# Environment:
#   PYTHON            interpreter to build with (default: .venv/bin/python)
#   ORBIT_SMOKE_QPA   Qt platform for the smoke test (default: offscreen)
#   ORBIT_SKIP_SMOKE  set to 1 to skip the smoke test
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-$ROOT/.venv/bin/python}"

if ! "$PY" -c 'import PyInstaller' 2>/dev/null; then
    echo "build.sh: installing the 'package' extra (PyInstaller)" >&2
    "$PY" -m pip install --quiet -e ".[package]"
fi

"$PY" -m PyInstaller --noconfirm --clean \
    --distpath dist --workpath build/pyinstaller \
    packaging/orbit-gui.spec

APP="$ROOT/dist/orbit-gui/orbit-gui"
echo "build.sh: built $APP ($(du -sh dist/orbit-gui | cut -f1))"

[[ "${ORBIT_SKIP_SMOKE:-0}" == 1 ]] && exit 0

# --- smoke test: the bundle starts, stays up, and stops on SIGTERM ----------
# Run against a throw-away home so no real settings, profiles or keyring are used.
SMOKE_HOME="$(mktemp -d)"
LOG="$ROOT/build/pyinstaller/smoke.log"
trap 'rm -rf "$SMOKE_HOME"' EXIT
HOME="$SMOKE_HOME" XDG_CONFIG_HOME="$SMOKE_HOME/config" XDG_DATA_HOME="$SMOKE_HOME/data" \
XDG_STATE_HOME="$SMOKE_HOME/state" XDG_CACHE_HOME="$SMOKE_HOME/cache" \
QT_QPA_PLATFORM="${ORBIT_SMOKE_QPA:-offscreen}" \
    "$APP" >"$LOG" 2>&1 &
PID=$!

fail() {
    echo "build.sh: SMOKE TEST FAILED: $*" >&2
    echo "----- $LOG -----" >&2
    cat "$LOG" >&2
    kill -KILL "$PID" 2>/dev/null || true
    exit 1
}

sleep 5
kill -0 "$PID" 2>/dev/null || { wait "$PID" && rc=0 || rc=$?; fail "exited during start-up (status $rc)"; }

kill -TERM "$PID"
for _ in $(seq 50); do
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.2
done
kill -0 "$PID" 2>/dev/null && fail "still running 10 s after SIGTERM"
wait "$PID" && rc=0 || rc=$?
# 0: the app handled SIGTERM and shut down; 143 (128+15): terminated by the signal.
# Anything else (e.g. 134 abort, 139 segfault) means a crash on the way out.
[[ $rc == 0 || $rc == 143 ]] || fail "exit status $rc after SIGTERM"
grep -q 'Traceback (most recent call last)' "$LOG" && fail "Python traceback in the output"
echo "build.sh: smoke test passed (ran 5 s, exit status $rc after SIGTERM)"
