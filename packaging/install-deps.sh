#!/usr/bin/env bash
# Installs every Debian package that building, testing and the quickstart need. Idempotent: when
# everything is present it installs nothing and touches no package list.
set -euo pipefail

PACKAGES=(
    # toolchain
    build-essential cmake ninja-build pkg-config clang-format git ca-certificates
    # libraries
    qt6-base-dev qt6-base-dev-tools libqt6sql6-psql
    libhttp-parser-dev libhiredis-dev libpq-dev libcurl4-openssl-dev libssl-dev libtomlplusplus-dev
    libgoogle-perftools-dev
    # the console: tokens in the system keychain (QtKeychain → Secret Service through libsecret)
    qtkeychain-qt6-dev libsecret-1-0
    # stores the gateway runs on (started privately by scripts, never as system services)
    postgresql redis-server
    # tests and benchmarks
    wrk nginx-light procps iproute2 curl
    # the console's keychain test: a private D-Bus session with gnome-keyring (tests/console/with-keyring.sh)
    dbus-daemon dbus-bin gnome-keyring
)
# Node.js and npm run the end-to-end tests with the official OpenAI SDK. A machine may already have
# them from elsewhere (nodesource's nodejs bundles npm): then the commands are enough.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    PACKAGES+=(nodejs npm)
fi

missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
