#!/usr/bin/env bash
# Lints the deployment description offline (no AWS account, no credentials, no Docker):
#   (a) sam validate --lint       SAM's own validation plus cfn-lint on the SAM template
#   (b) cfn-lint on the expansion  the template translated to plain CloudFormation by the SAM
#                                  translator (scripts/infra/expand_sam.py), every rule level
#                                  including informational; cfn-lint 1.x no longer looks inside
#                                  AWS::Serverless::* resources, so (a) alone misses e.g. a
#                                  dangling !Ref in a function's environment
#   (c) contract                   router ROUTES == infra/openapi.yaml (a valid OpenAPI 3.1
#                                  document) == the template's consent-api routes, and every route
#                                  has an events/consent-api/ request; the web distribution and
#                                  sign-in (scripts/infra/check_contract.py)
#   (d) inline code                the template's inline functions run as deployed: the CloudFront
#                                  Function in node, the Cognito trigger, the app-client custom
#                                  resource against moto's Cognito (scripts/infra/check_inline_code.py;
#                                  moto from scripts/local-aws/install.sh, installed if missing)
# Any finding fails the run; no rule is ignored.
#
# Installs the SAM CLI, cfn-lint and openapi-spec-validator (pinned) into the git-ignored venv
# .local/sam on first use; re-running skips the install. Needs python3 with venv and PyPI.
# LOCAL_AWS_HOME names another .local (a git worktree sharing its main checkout's tools).
set -euo pipefail

SAM_CLI_VERSION="1.170.0"            # bundles aws-lambda-builders 1.67.0 (Cargo workspace members as CodeUri)
CFN_LINT_VERSION="1.58.0"
OPENAPI_SPEC_VALIDATOR_VERSION="0.9.0"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
local_home="${LOCAL_AWS_HOME:-${root}/.local}"
venv="${local_home}/sam"
py="${venv}/bin/python"

installed() {
  [[ -x "${py}" ]] && "${py}" - "$SAM_CLI_VERSION" "$CFN_LINT_VERSION" "$OPENAPI_SPEC_VALIDATOR_VERSION" <<'EOF' 2>/dev/null
import importlib.metadata as m, sys
wanted = dict(zip(["aws-sam-cli", "cfn-lint", "openapi-spec-validator"], sys.argv[1:]))
sys.exit(0 if all(m.version(name) == version for name, version in wanted.items()) else 1)
EOF
}

if installed; then
  echo "sam ${SAM_CLI_VERSION}, cfn-lint ${CFN_LINT_VERSION}: already installed in .local/sam"
else
  echo "installing sam ${SAM_CLI_VERSION}, cfn-lint ${CFN_LINT_VERSION}, openapi-spec-validator ${OPENAPI_SPEC_VALIDATOR_VERSION} into .local/sam"
  command -v python3 >/dev/null || { echo "lint.sh: python3 is required" >&2; exit 1; }
  [[ -x "${venv}/bin/pip" ]] || python3 -m venv "${venv}"
  "${venv}/bin/pip" install --quiet --disable-pip-version-check \
    "aws-sam-cli==${SAM_CLI_VERSION}" \
    "cfn-lint==${CFN_LINT_VERSION}" \
    "openapi-spec-validator==${OPENAPI_SPEC_VALIDATOR_VERSION}"
fi

# Offline and anonymous: a fixed region, dummy credentials, no profile files, no telemetry, no
# instance-metadata lookups. Nothing here talks to AWS.
export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN
export SAM_CLI_TELEMETRY=0

work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
# Hermetic: a developer's ~/.cfnlintrc or ~/.aws-sam must not change what passes.
export HOME="${work}"
status=0

echo "== (a) sam validate --lint"
if ! (cd "${root}/infra" && "${venv}/bin/sam" validate --lint --template template.yaml); then
  status=1
fi

echo "== (b) cfn-lint on the SAM-expanded template"
expanded="${work}/template.expanded.json"
if "${py}" "${root}/scripts/infra/expand_sam.py" "${root}/infra/template.yaml" "${expanded}"; then
  # --include-checks I: informational rules too (e.g. I3011 explicit DeletionPolicy on stateful
  # resources). Line numbers refer to the expansion; the messages name the logical ids.
  if "${venv}/bin/cfn-lint" --include-checks I -- "${expanded}"; then
    echo "cfn-lint: no findings"
  else
    status=1
  fi
else
  status=1
fi

echo "== (c) contract: router, openapi.yaml, template routes, events"
if ! "${py}" "${root}/scripts/infra/check_contract.py" "${root}"; then
  status=1
fi

echo "== (d) inline code: CloudFront Function, Cognito trigger, app-client settings"
moto_server="${local_home}/moto/bin/moto_server"
[[ -x "${moto_server}" ]] || bash "${root}/scripts/local-aws/install.sh"
if ! "${py}" "${root}/scripts/infra/check_inline_code.py" "${root}" "${moto_server}"; then
  status=1
fi

if [[ ${status} -ne 0 ]]; then
  echo "lint.sh: FAILED" >&2
else
  echo "lint.sh: all checks passed"
fi
exit "${status}"
