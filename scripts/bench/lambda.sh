#!/usr/bin/env bash
# Lambda binaries (issues 4, 15.8): build every function package with cargo-lambda (x86_64) in
# the workspace's `lambda` profile, one package at a time (each with only its own features: a
# build of several packages at once would unify their features), report each bootstrap's size,
# and measure its cold start (process start to the first /runtime/invocation/next) with
# scripts/bench/cold_start.py.
#
#   bash scripts/bench/lambda.sh            # all packages under functions/
#   bash scripts/bench/lambda.sh consent-api
#   RUNS=50 bash scripts/bench/lambda.sh
#   PROFILE=release bash scripts/bench/lambda.sh   # another profile
#
# cargo-lambda (and zig) live in a venv under .local/cargo-lambda (git-ignored); it is created on
# first use with `pip install cargo-lambda`. No --arm64: that would download a rustup target.
# Set FALLBACK=1 to build with plain `cargo build --profile lambda` instead (host linker, same
# profile).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/work/target-bench}"
venv="$root/.local/cargo-lambda"
if [[ "${FALLBACK:-0}" != 1 && ! -x "$venv/bin/cargo-lambda" ]]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet cargo-lambda
fi
export PATH="$venv/bin:$PATH"

if [[ $# -gt 0 ]]; then
    packages=("$@")
else
    mapfile -t packages < <(bash scripts/function_packages.sh)
fi

profile="${PROFILE:-lambda}"
binaries=()
for package in "${packages[@]}"; do
    if [[ "${FALLBACK:-0}" == 1 ]]; then
        cargo build --profile "$profile" -p "$package"
        binaries+=("$CARGO_TARGET_DIR/$profile/$package")
    else
        cargo lambda build --profile "$profile" -p "$package"
        binaries+=("$CARGO_TARGET_DIR/lambda/$package/bootstrap")
    fi
done

echo
echo "| function | bytes | MB | MiB | file |"
echo "|---|---:|---:|---:|---|"
for binary in "${binaries[@]}"; do
    bytes=$(stat -c %s "$binary")
    name=$(basename "$(dirname "$binary")")
    [[ "$name" == "$profile" ]] && name=$(basename "$binary")
    desc=$(file -b "$binary" | sed 's/, BuildID\[[^]]*\]=[0-9a-f]*//' | cut -c1-110)
    printf '| %s | %d | %.2f | %.2f | %s |\n' "$name" "$bytes" \
        "$(echo "$bytes / 1000000" | bc -l)" "$(echo "$bytes / 1048576" | bc -l)" "$desc"
done
echo
python3 scripts/bench/cold_start.py --runs "${RUNS:-30}" "${binaries[@]}"
