#!/usr/bin/env bash
# Property tests of the HTTP surface: runs schemathesis (PyPI) against `connector serve` on a
# temporary database with infra/openapi.yaml as the contract. Fails on any 5xx, any response that
# breaks its documented schema, and any undocumented status code or content type.
#
# Installs schemathesis idempotently into the git-ignored `.local/schemathesis` venv (needs python3
# with venv; reaches only PyPI). Calls the API as a local administrator through the loopback
# headers. Bounded by SCHEMATHESIS_MAX_TIME seconds (default 180); SCHEMATHESIS_SEED fixes the
# generated data; SCHEMATHESIS_ARGS adds options (e.g. `--phases examples,coverage`).
# Skipped when SKIP_SCHEMATHESIS=1.
set -euo pipefail

SCHEMATHESIS_VERSION="4.32.5"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${root}"

if [[ "${SKIP_SCHEMATHESIS:-0}" == "1" ]]; then
  echo "schemathesis: skipped (SKIP_SCHEMATHESIS=1)"
  exit 0
fi

venv="${root}/.local/schemathesis"
if [[ -x "${venv}/bin/schemathesis" ]] \
  && "${venv}/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('schemathesis') != '${SCHEMATHESIS_VERSION}')" 2>/dev/null; then
  echo "schemathesis ${SCHEMATHESIS_VERSION}: already installed"
else
  command -v python3 >/dev/null || { echo "schemathesis.sh: python3 is required" >&2; exit 1; }
  echo "schemathesis ${SCHEMATHESIS_VERSION}: installing into ${venv}"
  mkdir -p "${root}/.local"
  [[ -x "${venv}/bin/pip" ]] || python3 -m venv "${venv}"
  "${venv}/bin/pip" install --quiet --disable-pip-version-check "schemathesis==${SCHEMATHESIS_VERSION}"
fi

cargo build --locked -p connector-cli --bin connector
connector="${CARGO_TARGET_DIR:-${root}/target}/debug/connector"
[[ -x "${connector}" ]] || { echo "schemathesis.sh: ${connector} was not built" >&2; exit 1; }

work="$(mktemp -d)"
port="$("${venv}/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
api="http://127.0.0.1:${port}"

"${connector}" serve --listen "127.0.0.1:${port}" --db "${work}/connector.db" \
  --outbox "${work}/outbox" --collect-every 0 >"${work}/serve.log" 2>&1 &
server=$!
cleanup() {
  kill "${server}" 2>/dev/null || true
  wait "${server}" 2>/dev/null || true
  rm -rf "${work}"
}
trap cleanup EXIT

for _ in $(seq 1 100); do
  curl -sf "${api}/health" >/dev/null 2>&1 && break
  kill -0 "${server}" 2>/dev/null || { cat "${work}/serve.log" >&2; exit 1; }
  sleep 0.2
done
curl -sf "${api}/health" >/dev/null || { echo "schemathesis.sh: the server did not start" >&2; exit 1; }

seed_args=()
[[ -n "${SCHEMATHESIS_SEED:-}" ]] && seed_args=(--seed "${SCHEMATHESIS_SEED}")

status=0
# Run from the temporary folder, so hypothesis' and schemathesis' own files stay out of the tree.
# One worker: with two, hypothesis' lambda-description cache raced (a KeyError inside
# schemathesis' coverage phase, reported as a "Runtime Error" that is not a finding).
cd "${work}"
# shellcheck disable=SC2086
"${venv}/bin/schemathesis" run "${root}/infra/openapi.yaml" \
  --url "${api}" \
  --header "x-connector-user: schemathesis" \
  --header "x-connector-role: admin" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --max-time "${SCHEMATHESIS_MAX_TIME:-180}" \
  --workers 1 \
  --request-timeout 10 \
  --warnings off \
  "${seed_args[@]}" \
  ${SCHEMATHESIS_ARGS:-} || status=$?
if [[ ${status} -ne 0 ]]; then
  echo "schemathesis.sh: failures above; the server log was:" >&2
  tail -n 20 "${work}/serve.log" >&2 || true
fi
exit ${status}
