#!/usr/bin/env bash
# Run a command inside a private D-Bus session with an unlocked gnome-keyring,
# so tests talk to a real Secret Service without touching the user's keyrings.
set -euo pipefail

if [ -z "${ORBIT_IN_TEST_SESSION:-}" ]; then
  scratch=$(mktemp -d "${TMPDIR:-/tmp}/orbit-test-session.XXXXXX")
  trap 'rm -rf "$scratch"' EXIT
  mkdir -m 700 "$scratch/runtime"
  export XDG_DATA_HOME="$scratch/data" XDG_RUNTIME_DIR="$scratch/runtime"
  export ORBIT_IN_TEST_SESSION=1
  dbus-run-session -- "$0" "$@"
  exit $?
fi

printf 'orbit-test-keyring' | gnome-keyring-daemon --unlock --components=secrets >/dev/null
exec "$@"
