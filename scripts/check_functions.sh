#!/usr/bin/env bash
# Checks that every Lambda function compiles on its own. A workspace build unifies the features
# of every package, so a module gated by the wrong feature (one a function does not enable)
# compiles there and breaks only `cargo lambda build -p <function>` / `sam build`. This checks
# each function package alone, with only the features it asks for.
set -euo pipefail
cd "$(dirname "$0")/.."
packages="$(bash scripts/function_packages.sh)"
for package in $packages; do
    echo "== cargo check -p $package (its own features only)"
    cargo check --locked --quiet -p "$package"
done
echo "check_functions.sh: every function compiles on its own"
