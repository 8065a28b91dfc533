#!/usr/bin/env bash
# Keeps the dependency rules of STYLE.md §3 true by looking at #include lines:
#   - shared/ (llmpool_core) is Qt Core only and includes nothing from gateway/ or console/;
#   - only gateway/storage/ includes QtSql or hiredis;
#   - only gateway/upstream/ includes curl;
#   - only gateway/http/ includes http_parser or Qt's TCP classes;
#   - gateway/routing/ is pure: no I/O, no network, no database, no Redis;
#   - gateway/http/ and gateway/storage/ know nothing of the layers above them.
# Exit 0 when every rule holds; otherwise every offending line is printed and the exit is 1.
set -u
ROOT=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$ROOT" || exit 2
failures=0

# forbid DIR PATTERN WHY [EXCLUDE_DIR...]
forbid() {
    local dir=$1 pattern=$2 why=$3
    shift 3
    [ -d "$dir" ] || return 0
    local excludes=()
    for e in "$@"; do excludes+=(--exclude-dir="$e"); done
    local hits
    hits=$(grep -rnE --include='*.h' --include='*.cpp' "${excludes[@]}" "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]($pattern)" "$dir" || true)
    if [ -n "$hits" ]; then
        echo "layering: $why"
        echo "$hits" | sed 's/^/    /'
        failures=$((failures + 1))
    fi
}

SQL='QSql|QtSql/|hiredis/'
CURL='curl/'
HTTPWIRE='http_parser\.h|QTcpServer|QTcpSocket|QAbstractSocket|QSslSocket'
UPPER='(cli|proxy|admin|billing|usage|ops|routing|upstream)/|Gateway\.h'

forbid shared "$SQL|$CURL|$HTTPWIRE|QNetwork|QtNetwork/|Qt(Widgets|Gui)/|QWidget|(http|storage|cli|proxy|admin|billing|usage|routing|upstream|ops)/" \
    "shared/ is llmpool_core: Qt Core only, no gateway or console headers"
forbid gateway "$SQL" "only gateway/storage/ may include QtSql or hiredis" storage
forbid gateway "$CURL" "only gateway/upstream/ may include curl" upstream
forbid gateway "$HTTPWIRE" "only gateway/http/ may include http_parser or Qt's TCP sockets" http
forbid gateway/routing "$SQL|$CURL|$HTTPWIRE|QNetwork|QFile|QProcess|QTimer|(http|storage|upstream)/" \
    "gateway/routing/ is pure logic: no I/O"
forbid gateway/http "storage/|$UPPER" "gateway/http/ must not depend on the layers above it"
forbid gateway/storage "http/|$UPPER" "gateway/storage/ must not depend on the layers above it"

if [ "$failures" -eq 0 ]; then
    echo "layering: every rule holds"
    echo "1 passed, 0 failed"
    exit 0
fi
echo "0 passed, 1 failed"
exit 1
