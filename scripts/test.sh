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

cd "$BUILD_DIR"
ctest --output-on-failure --timeout 600 "$@"
