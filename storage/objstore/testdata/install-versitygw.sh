#!/usr/bin/env bash
# Installs versitygw v1.8.0, the real S3 server the storage/objstore tests run against
# on loopback, into $STRATA_TEST_BIN (default $HOME/.cache/strata-test/bin). Idempotent:
# an existing binary is reused. A cold install compiles versitygw (about 2-8 minutes on
# 2 cores, depending on load; it also fills the Go module and build caches).
set -euo pipefail
bin="${STRATA_TEST_BIN:-$HOME/.cache/strata-test/bin}"
if [ -x "$bin/versitygw" ]; then
  echo "versitygw present: $bin/versitygw"
  exit 0
fi
mkdir -p "$bin"
start=$(date +%s)
# The module root is not a main package; the command lives in cmd/versitygw.
GOBIN="$bin" GOFLAGS= go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
echo "versitygw v1.8.0 installed in $(( $(date +%s) - start ))s: $bin/versitygw"
