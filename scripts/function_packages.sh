#!/usr/bin/env bash
# Prints the package name of every Lambda function under functions/, one per line (what
# scripts/check_functions.sh and scripts/bench/lambda.sh build one at a time).
set -euo pipefail
cd "$(dirname "$0")/.."
for manifest in functions/*/Cargo.toml; do
    sed -n 's/^name = "\(.*\)"/\1/p' "$manifest" | head -n1
done
