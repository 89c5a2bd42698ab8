#!/usr/bin/env python3
"""Checks that the HTTP API's four descriptions agree, offline, for each function behind it:

  * the router's ROUTES (consent-api: shared/app/src/http/consent_api/mod.rs plus GET /health;
    hl7-inbound: shared/app/src/http/hl7_inbound.rs; crm-outbound: .../crm_outbound.rs),
  * infra/openapi.yaml (a valid OpenAPI 3.1 document with exactly the union of those paths and
    methods; every 4xx/5xx response is application/problem+json; authenticated operations
    declare 401 and 403),
  * infra/template.yaml (each function's HttpApi events: exactly its routes; the JWT authorizer
    on every consent-api route but /health, and on none of the webhook functions' routes, which
    authenticate per channel),
  * events/<function>/*.json (every route has an event; every event names a known route of its
    function, and its path matches the route template; `*.payload.json` files are bodies),
  * the template's WebDistribution (every route's path reaches the API origin through a cache
    behaviour, no file of web/public does, nor /config.json, which the web behaviour's
    WebIndexFunction answers; the response headers policy sends the Content-Security-Policy
    cli/src/web.rs sends, without unsafe-inline, its connect-src admitting the identity provider),
  * sign-in: the JWT authorizer trusts the created user pool (its issuer, both app clients as
    audiences) or JwtIssuer/JwtAudience; the pool has the groups staff, admin and patient, no
    self sign-up, no client that may write custom:patient_id; the consent API reads
    cognito:groups with it; config.json names the authorizer's issuer and clients.

Usage: check_contract.py REPO_ROOT
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename
from samtranslator.yaml_helper import yaml_parse

HEALTH = ("GET", "/health")
# One `("METHOD", "/path")` entry; rustfmt may split a long one over several lines.
ROUTE_ENTRY = re.compile(r'\(\s*"([A-Z]+)"\s*,\s*"([^"]+)"\s*,?\s*\)\s*,?')
LINE_COMMENT = re.compile(r"//[^\n]*")
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


# (template logical id, router source, events folder, routes without the JWT authorizer: None = all)
APIS = [
    ("ConsentApiFunction", "shared/app/src/http/consent_api/mod.rs", "consent-api", {HEALTH}),
    ("Hl7InboundFunction", "shared/app/src/http/hl7_inbound.rs", "hl7-inbound", None),
    ("CrmOutboundFunction", "shared/app/src/http/crm_outbound.rs", "crm-outbound", None),
]


def router_routes(root: Path, source_path: str) -> set[tuple[str, str]]:
    """The (method, path) pairs of `pub const ROUTES` in a router's source."""
    source = (root / source_path).read_text()
    block = re.search(r"pub const ROUTES[^=]*=\s*&\[(.*?)\];", source, re.S)
    if not block:
        raise SystemExit(f"check_contract: `pub const ROUTES` not found in {source_path}")
    body = LINE_COMMENT.sub("", block.group(1))
    routes = {(m.group(1), m.group(2)) for m in ROUTE_ENTRY.finditer(body)}
    leftover = ROUTE_ENTRY.sub("", body).strip()
    if leftover:
        raise SystemExit(f"check_contract: cannot read ROUTES near: {leftover.split()[0]}")
    if not routes:
        raise SystemExit("check_contract: ROUTES is empty")
    return routes


def openapi_routes(path: Path) -> tuple[set[tuple[str, str]], list[str]]:
    """The documented (method, path) pairs, and problems with their error responses: every 4xx
    and 5xx response must be `application/problem+json` with the Problem schema, and every
    authenticated operation must declare 401 and 403."""
    spec, _ = read_from_filename(str(path))
    validate(spec)  # raises on an invalid document
    if not str(spec.get("openapi", "")).startswith("3.1"):
        raise SystemExit(f"check_contract: {path} must be OpenAPI 3.1")
    components = spec.get("components", {}).get("responses", {})
    problem_ref = "#/components/schemas/Problem"
    routes, problems = set(), []
    for route_path, item in spec["paths"].items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            route = (method.upper(), route_path)
            routes.add(route)
            where = f"infra/openapi.yaml: {' '.join(route)}"
            responses = operation.get("responses", {})
            for status, response in responses.items():
                if str(status)[:1] not in ("4", "5"):
                    continue
                ref = response.get("$ref", "")
                if ref:
                    response = components.get(ref.rsplit("/", 1)[-1], {})
                schema = response.get("content", {}).get("application/problem+json", {}).get("schema", {})
                if schema.get("$ref") != problem_ref:
                    problems.append(f"{where}: {status} is not application/problem+json with the Problem schema")
            secured = operation.get("security", spec.get("security", [])) != []
            for status in ("401", "403"):
                if secured and status not in responses:
                    problems.append(f"{where}: an authenticated operation must declare {status}")
    return routes, problems


def template_routes(
    path: Path, function_id: str, open_routes: set[tuple[str, str]] | None
) -> tuple[set[tuple[str, str]], list[str]]:
    template = yaml_parse(path.read_text())
    function = template["Resources"][function_id]["Properties"]
    routes, problems = set(), []
    for name, event in function.get("Events", {}).items():
        if event.get("Type") != "HttpApi":
            continue
        props = event["Properties"]
        route = (props["Method"].upper(), props["Path"])
        if route in routes:
            problems.append(f"template event {name}: {' '.join(route)} is routed twice")
        routes.add(route)
        if props.get("ApiId") != {"Ref": "ConnectorApi"}:
            problems.append(f"template event {name}: ApiId must be !Ref ConnectorApi")
        if str(props.get("PayloadFormatVersion")) != "2.0":
            problems.append(f"template event {name}: PayloadFormatVersion must be \"2.0\"")
        open_route = props.get("Auth", {}).get("Authorizer") == "NONE"
        if open_routes is None and not open_route:
            problems.append(f"template event {name} ({' '.join(route)}): {function_id} authenticates per channel; set Auth.Authorizer NONE")
        elif open_routes is not None and open_route != (route in open_routes):
            problems.append(f"template event {name} ({' '.join(route)}): only {sorted(open_routes)} may skip the JWT authorizer")
    return routes, problems


def template_to_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile("^" + "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts) + "$")


def event_problems(root: Path, folder: str, routes: set[tuple[str, str]]) -> list[str]:
    problems, covered = [], set()
    files = sorted(f for f in (root / "events" / folder).glob("*.json") if not f.name.endswith(".payload.json"))
    for file in files:
        event = json.loads(file.read_text())
        name = file.name
        if event.get("version") != "2.0":
            problems.append(f"{name}: version must be \"2.0\"")
        context = event.get("requestContext", {})
        method = context.get("http", {}).get("method", "")
        route_key = event.get("routeKey", "")
        route = tuple(route_key.split(" ", 1)) if " " in route_key else ("", "")
        if route not in routes:
            problems.append(f"{name}: routeKey {route_key!r} is not a route")
            continue
        covered.add(route)
        if context.get("routeKey") != route_key or method != route[0]:
            problems.append(f"{name}: routeKey / requestContext.routeKey / http.method disagree")
        for path in (event.get("rawPath", ""), context.get("http", {}).get("path", "")):
            if not template_to_regex(route[1]).match(path):
                problems.append(f"{name}: path {path!r} does not match {route[1]}")
        if context.get("stage") != "$default":
            problems.append(f"{name}: requestContext.stage must be \"$default\"")
        claims = context.get("authorizer", {}).get("jwt", {}).get("claims", {})
        if any(not isinstance(v, str) for v in claims.values()):
            problems.append(f"{name}: API Gateway passes JWT claims as strings")
        if "body" in event and not isinstance(event["body"], str):
            problems.append(f"{name}: body must be a JSON string")
    for route in sorted(routes - covered):
        problems.append(f"events/{folder}: no event for {' '.join(route)}")
    return problems


def path_pattern_regex(pattern: str) -> re.Pattern[str]:
    """A CloudFront cache behaviour's PathPattern (`*` any characters, `?` one) as a regex."""
    parts = ("." if c == "?" else ".*" if c == "*" else re.escape(c) for c in pattern)
    return re.compile("".join(parts) + r"\Z")


def directives(policy: str) -> dict[str, list[str]]:
    """A Content-Security-Policy as {directive: [sources]}, whitespace-insensitive."""
    parsed: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            parsed.setdefault(words[0], []).extend(w for w in words[1:] if w not in parsed[words[0]])
    return parsed


CSP_DIRECTIVE = re.compile(r"\b(default-src|script-src|style-src|img-src|connect-src|object-src|base-uri|form-action|frame-ancestors)\b")


def rust_csp(root: Path) -> str | None:
    """The Content-Security-Policy cli/src/web.rs sends: its string literals naming CSP
    directives (continuation lines joined), as one policy; a `{}` placeholder (a source added
    at run time) is left out, and so are comment lines and the unit tests."""
    rust = (root / "cli/src/web.rs").read_text().split("#[cfg(test)]")[0]
    rust = re.sub(r"(?m)^\s*//.*$", "", rust)
    literals = [
        re.sub(r"\\\n\s*", "", literal)
        for literal in re.findall(r'"((?:[^"\\]|\\.)*)"', rust, re.S)
        if CSP_DIRECTIVE.search(literal)
    ]
    return re.sub(r"\{[^}]*\}", "", "; ".join(literals)) if literals else None


def sub_parts(value) -> tuple[str, dict]:
    """An `Fn::Sub` value as (template string, variables)."""
    sub = value.get("Fn::Sub") if isinstance(value, dict) else None
    if isinstance(sub, str):
        return sub, {}
    if isinstance(sub, list) and len(sub) == 2 and isinstance(sub[0], str):
        return sub[0], sub[1]
    return "", {}


def if_branches(value, condition: str) -> tuple | None:
    """The (true, false) branches of `Fn::If [condition, ...]`, or None."""
    branches = value.get("Fn::If") if isinstance(value, dict) else None
    if isinstance(branches, list) and len(branches) == 3 and branches[0] == condition:
        return branches[1], branches[2]
    return None


# The created user pool's issuer, as the authorizer, the pages' config and the outputs name it.
POOL_ISSUER = {"Fn::Sub": "https://cognito-idp.${AWS::Region}.${AWS::URLSuffix}/${UserPool}"}
POOL_AUDIENCES = [{"Ref": "ConsoleClient"}, {"Ref": "PortalClient"}]
COGNITO_ORIGINS = (
    "https://cognito-idp.${AWS::Region}.${AWS::URLSuffix}",
    "https://${CognitoDomainPrefix}.auth.${AWS::Region}.amazoncognito.com",
)


def csp_problems(root: Path, resources: dict) -> list[str]:
    """The distribution's Content-Security-Policy is the one `connector serve` sends, without
    `unsafe-inline`, with connect-src admitting the identity provider: Cognito's regional
    endpoint and managed-login domain for the created pool, JwtIssuer's origin otherwise."""
    policy = resources.get("WebSecurityHeaders", {}).get("Properties", {}).get("ResponseHeadersPolicyConfig", {})
    sent = policy.get("SecurityHeadersConfig", {}).get("ContentSecurityPolicy", {}).get("ContentSecurityPolicy", "")
    template, variables = sub_parts(sent) if isinstance(sent, dict) else (sent, {})
    where = "WebSecurityHeaders: Content-Security-Policy"
    if not template:
        return [f"{where} is neither a string nor an Fn::Sub"]
    problems = []
    ours = directives(template)
    if "unsafe-inline" in template or "unsafe-eval" in template:
        problems.append(f"{where} allows unsafe-inline or unsafe-eval")
    literal = rust_csp(root)
    if literal is None:
        problems.append("cli/src/web.rs: no Content-Security-Policy literal (a string naming CSP directives)")
    else:
        theirs = directives(literal)
        for name in sorted(set(ours) | set(theirs)):
            if name != "connect-src" and ours.get(name) != theirs.get(name):
                problems.append(f"{where}: {name} differs from cli/src/web.rs's CSP")
        missing = [s for s in theirs.get("connect-src", []) if s not in ours.get("connect-src", [])]
        if missing:
            problems.append(f"{where}: connect-src lacks {missing} that cli/src/web.rs sends")
    connect = ours.get("connect-src", [])
    if "'self'" not in connect or "${IdpOrigins}" not in connect:
        problems.append(f"{where}: connect-src must be 'self' plus ${{IdpOrigins}}")
        return problems
    branches = if_branches(variables.get("IdpOrigins"), "CreateUserPool")
    if branches is None:
        return problems + [f"{where}: IdpOrigins must be Fn::If [CreateUserPool, ...]"]
    created, _ = sub_parts(branches[0])
    for origin in COGNITO_ORIGINS:
        if origin not in created.split():
            problems.append(f"{where}: connect-src does not admit {origin} for the created user pool")
    outside = json.dumps(branches[1])
    if "JwtIssuer" not in outside or '"OidcConnectSources"' not in outside:
        problems.append(f"{where}: connect-src does not admit JwtIssuer's origin and OidcConnectSources")
    return problems


def sign_in_problems(resources: dict) -> list[str]:
    """The JWT authorizer follows the created user pool (its issuer, both app clients as
    audiences) or JwtIssuer/JwtAudience; the pool has the groups staff and admin (the role
    claim) and the consent API reads cognito:groups when the pool is created; the pages'
    config.json names the same issuer and clients."""
    problems = []
    api = resources["ConnectorApi"]["Properties"]["Auth"]
    jwt = api["Authorizers"][api["DefaultAuthorizer"]]["JwtConfiguration"]
    if if_branches(jwt.get("issuer"), "CreateUserPool") != (POOL_ISSUER, {"Ref": "JwtIssuer"}):
        problems.append("ConnectorApi: the JWT issuer must be the created pool's, else JwtIssuer")
    if if_branches(jwt.get("audience"), "CreateUserPool") != (POOL_AUDIENCES, {"Ref": "JwtAudience"}):
        problems.append("ConnectorApi: the JWT audiences must be ConsoleClient and PortalClient, else JwtAudience")
    groups = {
        r["Properties"].get("GroupName")
        for r in resources.values()
        if r.get("Type") == "AWS::Cognito::UserPoolGroup" and r["Properties"].get("UserPoolId") == {"Ref": "UserPool"}
    }
    for group in ("staff", "admin", "patient"):
        if group not in groups:
            problems.append(f"UserPool: no group {group!r} (the role claim cognito:groups)")
    env = resources["ConsentApiFunction"]["Properties"]["Environment"]["Variables"]
    if if_branches(env.get("JWT_ROLE_CLAIM"), "CreateUserPool") != ("cognito:groups", {"Ref": "JwtRoleClaim"}):
        problems.append("ConsentApiFunction: JWT_ROLE_CLAIM must be cognito:groups for the created pool, else JwtRoleClaim")
    pool = resources.get("UserPool", {}).get("Properties", {})
    if pool.get("AdminCreateUserConfig", {}).get("AllowAdminCreateUserOnly") is not True:
        problems.append("UserPool: self sign-up must be off (AllowAdminCreateUserOnly)")
    for name in ("ConsoleClientSettings", "PortalClientSettings"):
        settings = resources.get(name, {}).get("Properties", {})
        if any("patient_id" in attribute for attribute in settings.get("WriteAttributes", ["custom:patient_id"])):
            problems.append(f"{name}: WriteAttributes must be given and must not include custom:patient_id")
    # Cognito puts every attribute a client may read into its ID tokens, which the portal keeps in
    # the browser: a patient's tokens carry the patient id and nothing personal.
    portal_reads = resources.get("PortalClientSettings", {}).get("Properties", {}).get("ReadAttributes")
    if portal_reads != ["custom:patient_id"]:
        problems.append("PortalClientSettings: ReadAttributes must be exactly custom:patient_id (no personal attributes in a patient's tokens)")

    function = resources.get("WebIndexFunction", {}).get("Properties", {})
    code, variables = sub_parts(function.get("FunctionCode"))
    if "'/config.json'" not in code or "auth: 'oidc'" not in code or "api: ''" not in code:
        problems.append("WebIndexFunction: must answer /config.json with auth 'oidc' and api ''")
    if if_branches(variables.get("Authority"), "CreateUserPool") != (POOL_ISSUER, {"Ref": "JwtIssuer"}):
        problems.append("WebIndexFunction: config.json's authority must be the authorizer's issuer")
    for key, client in (("ConsoleClientId", "ConsoleClient"), ("PortalClientId", "PortalClient")):
        branches = if_branches(variables.get(key), "CreateUserPool")
        if not branches or branches[0] != {"Ref": client}:
            problems.append(f"WebIndexFunction: config.json's {key} must be {client} for the created pool")
    return problems


def web_distribution_problems(root: Path, routes: set[tuple[str, str]]) -> list[str]:
    """The web console's distribution sends every API path, and no web file nor /config.json,
    to the API origin; /config.json is the web behaviour's (WebIndexFunction answers it); the
    Content-Security-Policy is `connector serve`'s with the identity provider admitted."""
    resources = yaml_parse((root / "infra/template.yaml").read_text())["Resources"]
    if "WebDistribution" not in resources:
        return ["infra/template.yaml: no WebDistribution"]
    config = resources["WebDistribution"]["Properties"]["DistributionConfig"]
    api = [
        path_pattern_regex(b["PathPattern"])
        for b in config.get("CacheBehaviors", [])
        if b.get("TargetOriginId") == "api"
    ]
    problems = []
    for path in sorted({path for _, path in routes}):
        concrete = re.sub(r"\{[^}]+\}", "x", path)
        if not any(p.match(concrete) for p in api):
            problems.append(f"WebDistribution: no cache behaviour sends {path} to the api origin")
    public = root / "web/public"
    for file in sorted(f for f in public.rglob("*") if f.is_file()):
        path = "/" + file.relative_to(public).as_posix()
        if any(p.match(path) for p in api):
            problems.append(f"WebDistribution: web file {path} would be sent to the api origin")
    if (public / "config.json").exists():
        problems.append("web/public/config.json: never served (WebIndexFunction answers /config.json)")
    for behaviour in config.get("CacheBehaviors", []):
        if path_pattern_regex(behaviour["PathPattern"]).match("/config.json"):
            problems.append(f"WebDistribution: {behaviour['PathPattern']} takes /config.json from the web behaviour")
    default = config.get("DefaultCacheBehavior", {})
    index = {"Fn::GetAtt": ["WebIndexFunction", "FunctionMetadata.FunctionARN"]}
    associated = [
        a for a in default.get("FunctionAssociations", [])
        if a.get("EventType") == "viewer-request" and a.get("FunctionARN") in (index, {"Fn::GetAtt": "WebIndexFunction.FunctionMetadata.FunctionARN"})
    ]
    if default.get("TargetOriginId") != "web" or not associated:
        problems.append("WebDistribution: the default behaviour must be the web origin with WebIndexFunction on viewer-request")
    return problems + csp_problems(root, resources) + sign_in_problems(resources)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    root = Path(argv[1])
    problems: list[str] = []
    all_routes: set[tuple[str, str]] = set()
    for function_id, source, folder, open_routes in APIS:
        expected = router_routes(root, source) | ({HEALTH} if function_id == "ConsentApiFunction" else set())
        for route in sorted(expected & all_routes):
            problems.append(f"{function_id}: {' '.join(route)} is routed by two functions")
        all_routes |= expected
        deployed, template_issues = template_routes(root / "infra/template.yaml", function_id, open_routes)
        problems += template_issues
        for route in sorted(expected - deployed):
            problems.append(f"infra/template.yaml: {function_id} has no HttpApi event for {' '.join(route)}")
        for route in sorted(deployed - expected):
            problems.append(f"infra/template.yaml: {function_id} routes {' '.join(route)}, which its router lacks")
        problems += event_problems(root, folder, expected)

    documented, openapi_issues = openapi_routes(root / "infra/openapi.yaml")
    problems += openapi_issues
    for route in sorted(all_routes - documented):
        problems.append(f"infra/openapi.yaml: missing {' '.join(route)}")
    for route in sorted(documented - all_routes):
        problems.append(f"infra/openapi.yaml: {' '.join(route)} is not a route of any router")
    problems += web_distribution_problems(root, all_routes)

    for problem in problems:
        print(f"contract: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"contract: {len(all_routes)} routes agree across the routers, openapi.yaml, template.yaml, events/ and the web distribution")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
