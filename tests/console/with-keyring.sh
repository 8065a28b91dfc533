#!/bin/sh
# Runs a command with a real Secret Service: a private D-Bus session bus (dbus-run-session) with
# gnome-keyring-daemon unlocked inside it (its login keyring created with a throwaway password read
# from stdin). HOME and the XDG directories point into a temporary directory, so the user's own
# keyring is never touched. Works headless and as root (CI).
#   tests/console/with-keyring.sh COMMAND [ARGS...]
set -u

for tool in dbus-run-session gnome-keyring-daemon; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "with-keyring.sh: $tool is missing (packaging/install-deps.sh installs it)" >&2
        exit 1
    fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/llmpool-keyring.XXXXXX") || exit 1
export HOME="$tmp/home" XDG_DATA_HOME="$tmp/data" XDG_CONFIG_HOME="$tmp/config" XDG_CACHE_HOME="$tmp/cache" \
    XDG_RUNTIME_DIR="$tmp/run" LLMPOOL_TEST_KEYRING=1
mkdir -p "$HOME" "$XDG_DATA_HOME" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"
unset DBUS_SESSION_BUS_ADDRESS GNOME_KEYRING_CONTROL SSH_AUTH_SOCK DISPLAY WAYLAND_DISPLAY

# The daemons must not hold our stdout/stderr (ctest would wait for them): the command's output
# goes through a file, shown when it is done.
dbus-run-session -- sh -c '
    printf "%s" "llmpool-test-keyring" | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1 || {
        echo "with-keyring.sh: gnome-keyring-daemon --unlock failed" >&2; exit 1; }
    exec "$@"' with-keyring "$@" >"$tmp/output.log" 2>&1 </dev/null
status=$?
cat "$tmp/output.log"

# gnome-keyring-daemon may outlive the bus for a moment: end the ones started for this run (their
# HOME is our directory), by pid.
for environ in /proc/[0-9]*/environ; do
    if { tr '\0' '\n' <"$environ"; } 2>/dev/null | grep -qx "HOME=$HOME"; then
        pid=${environ#/proc/}
        pid=${pid%/environ}
        [ "$pid" != "$$" ] && kill "$pid" 2>/dev/null
    fi
done
rm -rf "$tmp"
exit $status
