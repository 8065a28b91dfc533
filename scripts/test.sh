#!/usr/bin/env bash
# The test command: installs what is missing, builds with warnings as errors, runs the whole suite.
# The suite starts its own PostgreSQL and Redis on free ports in temporary folders (ctest fixture
# `services`, tests/support) and removes them afterwards, also when a test fails.
#   scripts/test.sh                 everything
#   scripts/test.sh -L unit         any extra arguments go to ctest
set -euo pipefail
cd "$(dirname "$0")/.."

bash packaging/install-deps.sh

BUILD_DIR=${LLMPOOL_TEST_BUILD_DIR:-build-test}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DLLMPOOL_WERROR=ON -DLLMPOOL_BUILD_TESTS=ON >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)"

# The end-to-end suite's OpenAI SDK (tests/e2e): installed from the lock file, again only when
# node_modules is missing or package-lock.json changed since the last install.
E2E_DIR=tests/e2e
if [[ -f $E2E_DIR/package-lock.json ]]; then
    lock_sum=$(sha256sum "$E2E_DIR/package-lock.json" | cut -d' ' -f1)
    stamp=$E2E_DIR/node_modules/.llmpool-lock-sha256
    if [[ ! -d $E2E_DIR/node_modules || ! -f $stamp || $(cat "$stamp") != "$lock_sum" ]]; then
        (cd "$E2E_DIR" && npm ci --no-audit --no-fund)
        echo "$lock_sum" >"$stamp"
    fi
fi

cd "$BUILD_DIR"
ctest --output-on-failure --timeout 600 "$@"
