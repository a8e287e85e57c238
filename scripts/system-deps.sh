#!/usr/bin/env bash
# Install the Debian packages Orbit GUI needs, when they are missing.
#   scripts/system-deps.sh run    what the app needs to open a window
#   scripts/system-deps.sh test   what the test suite needs (real servers, keyring, X)
# As root it installs them with apt-get; otherwise it prints the command and stops.
set -euo pipefail

run_packages=(libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0
              libxcb-shape0 libxcb-randr0 libxcb-xinerama0 libxcb-xkb1 libxkbcommon-x11-0
              libegl1 libgl1 libfontconfig1 libdbus-1-3)
test_packages=("${run_packages[@]}" xvfb xauth openssh-server openssh-client samba smbclient
               gnome-keyring dbus imagemagick)

case "${1:-}" in
  run) wanted=("${run_packages[@]}") ;;
  test) wanted=("${test_packages[@]}") ;;
  *) echo "usage: $0 run|test" >&2; exit 2 ;;
esac

if ! command -v dpkg-query >/dev/null; then
  echo "system-deps: not a Debian-based system; install the equivalents of: ${wanted[*]}" >&2
  exit 0
fi

missing=()
for package in "${wanted[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)
  [ "$status" = installed ] || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

command_line="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "Orbit GUI needs these Debian packages. Install them, then run make again:" >&2
  echo "  sudo apt-get update && sudo $command_line" >&2
  exit 1
fi
echo "system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
$command_line -qq
