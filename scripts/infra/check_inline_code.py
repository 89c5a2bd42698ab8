#!/usr/bin/env python3
"""Runs the code that infra/template.yaml carries inline, as deployed, against real things:

  * WebIndexFunction (CloudFront Function, cloudfront-js-2.0) in node, its `Fn::Sub` values
    filled in as CloudFormation would for a created user pool and for an outside issuer:
    /config.json is the sign-in configuration of the shared contract (no-store, JSON), folders
    get their index.html, /portal is redirected, files pass through, other paths fall back to
    their section's index.html;
  * PatientIdClaimFunction (Cognito pre-token-generation trigger, V2_0 event): a user's
    custom:patient_id lands in the access-token claim JWT_PATIENT_ID_CLAIM, other users get none;
  * AppClientSettingsFunction (custom resource) against moto's Cognito over HTTP, answering a
    local HTTP server standing in for CloudFormation's response URL: the client ends with the
    declared OAuth settings, a failure is reported FAILED (never left unanswered) and logs its
    error type only, Delete touches nothing.

Usage: check_inline_code.py REPO_ROOT MOTO_SERVER
"""

from __future__ import annotations

import contextlib
import http.server
import importlib.util
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import boto3
from samtranslator.yaml_helper import yaml_parse

REGION = "us-east-1"
DISTRIBUTION = "d111111abcdef8.cloudfront.net"
NODE_HARNESS = """
const code = require('fs').readFileSync(0, 'utf8');
const cases = JSON.parse(process.argv[1]);
const handler = new Function(code + '\\nreturn handler;')();
console.log(JSON.stringify(cases.map((event) => handler(event))));
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sub(template: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        template = template.replace("${" + name + "}", value)
    assert "${" not in template, "an Fn::Sub variable is left"
    return template


def viewer_request(uri: str) -> dict:
    return {
        "version": "1.0",
        "context": {"distributionDomainName": DISTRIBUTION, "eventType": "viewer-request"},
        "viewer": {"ip": "192.0.2.1"},
        "request": {"method": "GET", "uri": uri, "querystring": {}, "headers": {"host": {"value": DISTRIBUTION}}, "cookies": {}},
    }


def run_web_function(code: str, uris: list[str]) -> list[dict]:
    events = json.dumps([viewer_request(uri) for uri in uris])
    out = subprocess.run(["node", "-e", NODE_HARNESS, events], input=code, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def check_web_function(resources: dict) -> list[str]:
    code = resources["WebIndexFunction"]["Properties"]["FunctionCode"]["Fn::Sub"][0]
    problems = []
    pool = {
        "Authority": f"https://cognito-idp.{REGION}.amazonaws.com/{REGION}_AbCdEf123",
        "ConsoleClientId": "console1example",
        "PortalClientId": "portal1example",
        "Scope": "openid",
        "Resource": "",
        "EndSession": f"https://clinic.auth.{REGION}.amazoncognito.com/logout",
    }
    uris = ["/config.json", "/", "/portal/", "/portal", "/assets/app.js", "/portal/consents", "/patients/p-1", "/vendor/x.min.js"]
    config, root, portal_root, redirect, asset, deep_portal, deep_console, vendor = run_web_function(sub(code, pool), uris)

    def expect(what: str, ok: bool) -> None:
        if not ok:
            problems.append(f"WebIndexFunction: {what}")

    headers = {name: header["value"] for name, header in config.get("headers", {}).items()}
    expect("/config.json answers 200 application/json, no-store", config.get("statusCode") == 200
           and headers.get("content-type") == "application/json" and headers.get("cache-control") == "no-store")
    body = json.loads(config["body"]["data"]) if config.get("body", {}).get("encoding") == "text" else {}
    for client, path in (("console", "/"), ("portal", "/portal/")):
        expect(f"config.json's {client} block", body.get(client) == {
            "authority": pool["Authority"],
            "client_id": pool[f"{client.capitalize()}ClientId"],
            "scope": "openid",
            "end_session_endpoint": pool["EndSession"],
            "logout_query": {"client_id": pool[f"{client.capitalize()}ClientId"], "logout_uri": f"https://{DISTRIBUTION}{path}"},
        })
    expect("config.json says auth oidc, api ''", body.get("auth") == "oidc" and body.get("api") == "")
    expect("/ is /index.html", root.get("uri") == "/index.html")
    expect("/portal/ is /portal/index.html", portal_root.get("uri") == "/portal/index.html")
    expect("/portal is redirected (308) to /portal/", redirect.get("statusCode") == 308
           and redirect.get("headers", {}).get("location", {}).get("value") == "/portal/")
    expect("files pass through", asset.get("uri") == "/assets/app.js" and vendor.get("uri") == "/vendor/x.min.js")
    expect("/portal/... falls back to the portal", deep_portal.get("uri") == "/portal/index.html")
    expect("other paths fall back to the console", deep_console.get("uri") == "/index.html")

    outside = dict(pool, Authority="https://login.example.org/realms/clinic", ConsoleClientId="connector-console",
                   PortalClientId="connector-portal", Scope="openid offline_access", Resource="connector-api", EndSession="")
    (config,) = run_web_function(sub(code, outside), ["/config.json"])
    expect("an outside issuer's config.json (resource, no end-session override)", json.loads(config["body"]["data"])["portal"] == {
        "authority": outside["Authority"], "client_id": "connector-portal", "scope": "openid offline_access", "resource": "connector-api",
    })
    return problems


def load_inline(resources: dict, logical_id: str, module: str):
    code = resources[logical_id]["Properties"]["Code"]["ZipFile"]
    spec = importlib.util.spec_from_loader(module, loader=None)
    loaded = importlib.util.module_from_spec(spec)
    exec(compile(code, f"{logical_id}/index.py", "exec"), loaded.__dict__)
    return loaded


def check_trigger(resources: dict) -> list[str]:
    os.environ["PATIENT_ID_CLAIM"] = "patient_id"
    trigger = load_inline(resources, "PatientIdClaimFunction", "trigger")

    def event(attributes: dict) -> dict:
        return {
            "version": "2", "triggerSource": "TokenGeneration_HostedAuth", "region": REGION,
            "userPoolId": f"{REGION}_AbCdEf123", "userName": "8f0c0e5e-0000-4000-8000-000000000001",
            "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "portal1example"},
            "request": {"userAttributes": attributes, "groupConfiguration": {"groupsToOverride": ["patient"], "iamRolesToOverride": [], "preferredRole": None}, "scopes": ["openid"]},
            "response": {"claimsAndScopeOverrideDetails": None},
        }

    problems = []
    patient = trigger.handler(event({"sub": "8f0c", "custom:patient_id": "p-1001"}), None)
    if patient["response"]["claimsAndScopeOverrideDetails"] != {"accessTokenGeneration": {"claimsToAddOrOverride": {"patient_id": "p-1001"}}}:
        problems.append("PatientIdClaimFunction: custom:patient_id does not reach the access token's patient_id claim")
    staff = trigger.handler(event({"sub": "8f0d", "email": "frontdesk@example.org"}), None)
    if staff["response"]["claimsAndScopeOverrideDetails"] is not None:
        problems.append("PatientIdClaimFunction: a user without custom:patient_id gets a claim")
    return problems


class ResponseUrl(http.server.BaseHTTPRequestHandler):
    """CloudFormation's pre-signed response URL: keeps each PUT body."""

    received: list[dict] = []

    def do_PUT(self) -> None:  # noqa: N802 (http.server's name)
        self.received.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def cloudformation_strings(value):
    """Custom resource properties as CloudFormation delivers them: scalars become strings."""
    if isinstance(value, dict):
        return {k: cloudformation_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [cloudformation_strings(v) for v in value]
    return str(value).lower() if isinstance(value, bool) else str(value)


def check_client_settings(resources: dict, moto_server: str) -> list[str]:
    port = free_port()
    moto = subprocess.Popen([moto_server, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    receiver = http.server.HTTPServer(("127.0.0.1", 0), ResponseUrl)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        cognito = boto3.client("cognito-idp", region_name=REGION)
        pool_id = cognito.create_user_pool(PoolName="check")["UserPool"]["Id"]
        client_id = cognito.create_user_pool_client(UserPoolId=pool_id, ClientName="console", GenerateSecret=False)["UserPoolClient"]["ClientId"]
        function = load_inline(resources, "AppClientSettingsFunction", "client_settings")

        declared = dict(resources["ConsoleClientSettings"]["Properties"])
        declared.pop("ServiceToken")
        redirects = [f"https://{DISTRIBUTION}/"]
        declared.update(UserPoolId=pool_id, ClientId=client_id, CallbackURLs=redirects, LogoutURLs=redirects)

        def invoke(request_type: str, properties: dict) -> dict:
            ResponseUrl.received.clear()
            function.handler({
                "RequestType": request_type, "ResponseURL": f"http://127.0.0.1:{receiver.server_port}/response",
                "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/check/1", "RequestId": "r-1",
                "LogicalResourceId": "ConsoleClientSettings", "ResourceType": "Custom::CognitoAppClientSettings",
                "ResourceProperties": cloudformation_strings(properties),
            }, None)
            return ResponseUrl.received[0] if ResponseUrl.received else {}

        problems = []
        answer = invoke("Create", declared)
        client = cognito.describe_user_pool_client(UserPoolId=pool_id, ClientId=client_id)["UserPoolClient"]
        if answer.get("Status") != "SUCCESS" or answer.get("PhysicalResourceId") != client_id:
            problems.append(f"AppClientSettingsFunction: Create answered {answer}")
        wanted = {
            "CallbackURLs": redirects, "LogoutURLs": redirects, "AllowedOAuthFlows": ["code"],
            "AllowedOAuthFlowsUserPoolClient": True, "AllowedOAuthScopes": ["openid"],
            "AccessTokenValidity": 15, "RefreshTokenValidity": 12, "WriteAttributes": ["locale", "zoneinfo"],
        }
        for key, value in wanted.items():
            if client.get(key) != value:
                problems.append(f"AppClientSettingsFunction: the client's {key} is {client.get(key)!r}, not {value!r}")
        log = io.StringIO()
        with contextlib.redirect_stdout(log):
            answer = invoke("Update", dict(declared, ClientId="no-such-client"))
        if answer.get("Status") != "FAILED" or "ResourceNotFoundException" not in answer.get("Reason", ""):
            problems.append(f"AppClientSettingsFunction: a failing update answered {answer}")
        if log.getvalue() != '{"error": "ResourceNotFoundException"}\n':
            problems.append(f"AppClientSettingsFunction: a failure must log its error type only, logged {log.getvalue()!r}")
        if invoke("Delete", dict(declared, ClientId="no-such-client")).get("Status") != "SUCCESS":
            problems.append("AppClientSettingsFunction: Delete must succeed without touching the client")
        return problems
    finally:
        receiver.shutdown()
        moto.terminate()
        moto.wait()


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    resources = yaml_parse((Path(argv[1]) / "infra/template.yaml").read_text())["Resources"]
    problems = check_web_function(resources) + check_trigger(resources) + check_client_settings(resources, argv[2])
    for problem in problems:
        print(f"inline code: {problem}", file=sys.stderr)
    if problems:
        return 1
    print("inline code: WebIndexFunction, PatientIdClaimFunction and AppClientSettingsFunction behave as declared")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
