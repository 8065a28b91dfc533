#!/usr/bin/env bash
# Static checks of the console (STYLE §3): its core and CLI never include Qt Widgets, QtSql,
# hiredis, curl or the gateway's headers; tokens reach QtKeychain only through session/; and the
# bash completion script parses and completes the grammar's commands and verbs.
#   tests/console/check-console.sh SOURCE_DIR
set -uo pipefail
src=${1:?source directory}
failed=0

check() { # description, grep -E pattern, paths...
    local what=$1 pattern=$2
    shift 2
    local hits
    hits=$(grep -rnE "$pattern" "$@" 2>/dev/null)
    if [[ -n $hits ]]; then
        echo "console layering: $what" >&2
        echo "$hits" | sed 's/^/    /' >&2
        failed=1
    fi
}

check "console core and CLI never use Qt Widgets" '#include <(QtWidgets|QWidget|QApplication|QMainWindow|QDialog)' \
    "$src/console/api" "$src/console/session" "$src/console/cli" "$src/console/main.cpp"
check "console never uses QtSql, hiredis, curl or gateway headers" \
    '#include ["<](QtSql|QSql|hiredis|curl/|gateway/|http/|storage/|proxy/|admin/)' "$src/console"
check "only console/session/ talks to the keychain" '#include .*keychain\.h' "$src/console/api" "$src/console/cli"

completion=$src/packaging/bash-completion/llmpool-ctl
if ! bash -n "$completion"; then
    echo "console: $completion does not parse" >&2
    failed=1
else
    complete_line() { # words... ; prints COMPREPLY
        bash -c '
            source "$1"; shift
            COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 ))
            _llmpool_ctl
            echo "${COMPREPLY[*]}"' completion "$completion" "$@"
    }
    expect() { # expected-word words...
        local want=$1
        shift
        local got
        got=$(complete_line "$@")
        if [[ " $got " != *" $want "* ]]; then
            echo "console: completing '$*' gave '$got', expected it to offer '$want'" >&2
            failed=1
        fi
    }
    expect wallet llmpool-ctl wal
    expect deposit llmpool-ctl wallet dep
    expect --request-id llmpool-ctl wallet deposit alice 5 --req
    expect --no-detect llmpool-ctl upstream add --no
    expect json llmpool-ctl --format j
    expect hour llmpool-ctl usage summary --by h
    expect --spend-limit llmpool-ctl --url http://x key add alice --sp
    # Profile names from the profile file.
    config=$(mktemp -d)
    mkdir -p "$config/llmpool"
    printf '{\n    "current": "prod",\n    "profiles": {\n        "prod": {\n            "url": "http://a"\n        },\n        "staging": {\n            "url": "http://b"\n        }\n    }\n}\n' >"$config/llmpool/console.json"
    got=$(XDG_CONFIG_HOME=$config complete_line llmpool-ctl profile use "")
    if [[ $got != "prod staging" ]]; then
        echo "console: completing 'profile use' gave '$got', expected 'prod staging'" >&2
        failed=1
    fi
    got=$(XDG_CONFIG_HOME=$config complete_line llmpool-ctl user list --profile st)
    [[ $got == staging ]] || { echo "console: completing '--profile st' gave '$got'" >&2; failed=1; }
    rm -rf "$config"
fi

if [[ $failed -ne 0 ]]; then
    exit 1
fi
echo "console checks passed"
