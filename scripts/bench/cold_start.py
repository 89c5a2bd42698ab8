#!/usr/bin/env python3
"""Cold start of a Lambda bootstrap binary: process start to ready.

"Ready" is the moment the function's runtime asks for its first event, i.e. its first
`GET /2018-06-01/runtime/invocation/next` on the Lambda Runtime API: everything the
function does at INIT (configuration, SDK clients, routers) happens before it. A tiny local
HTTP server plays the Runtime API; the binary is started with `AWS_LAMBDA_RUNTIME_API`
pointing at it and the environment a deployed function has. The time from just before the
spawn to the first `/next` request is recorded; the request is then held (no event is ever
returned) and the process is killed. Repeated N times (plus warm-up runs that are not
counted); median, p90, min and max are reported, and the peak RSS the kernel reports for the
killed process.

If the function reports an INIT failure (`POST /runtime/init/error`) or exits before asking
for an event, the run fails and the function's output is shown. Every AWS endpoint
(`AWS_ENDPOINT_URL`) points at the same loopback server, so INIT must not call AWS: a request
there fails the run (a real DynamoDB, SQS or Secrets Manager call would add a network round
trip, and fail, at every cold start).

    python3 scripts/bench/cold_start.py target/lambda/consent-api/bootstrap --runs 30
    python3 scripts/bench/cold_start.py a/bootstrap b/bootstrap --json results.json

Only the standard library is used. Nothing here talks to AWS: the dummy credentials and
table names are never used, because no request is served. The environment is the one
infra/template.yaml gives each function (the Globals plus the function's own variables); the
CRM functions get `CONNECTOR_CRM=leadsquared` with `env:` key references, so their INIT builds
the LeadSquared client as a deployment with a CRM does.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import signal
import socketserver
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

NEXT = "/2018-06-01/runtime/invocation/next"
INIT_ERROR = "/2018-06-01/runtime/init/error"


def function_env(name: str, port: int) -> dict[str, str]:
    """The environment a deployed function sees (as the SAM template sets it), with dummies."""
    env = {
        # The Runtime API and the variables lambda_runtime's Config::from_env requires.
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/11/21/[$LATEST]0123456789abcdef",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_EXECUTION_ENV": "AWS_Lambda_provided.al2023",
        "_HANDLER": "bootstrap",
        "LAMBDA_TASK_ROOT": "/var/task",
        "TZ": ":UTC",
        # The SDK: region and dummy credentials from the environment, as Lambda provides them.
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "AKIDBENCHCOLDSTART0",
        "AWS_SECRET_ACCESS_KEY": "bench-cold-start-dummy-secret",
        "AWS_SESSION_TOKEN": "bench-cold-start-dummy-token",
        # The connector's configuration (CONNECTOR_STORE=aws and its resources).
        "CONNECTOR_STORE": "aws",
        "CONSENTS_TABLE": "connector-consents",
        "APPOINTMENTS_TABLE": "connector-appointments",
        "FLOWS_TABLE": "connector-flows",
        "AUDIT_TABLE": "connector-audit",
        "HIE_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/connector-hie",
        "DELIVERY_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/connector-delivery.fifo",
        "AUDIT_RETENTION_DAYS": "2190",
        "AWS_LAMBDA_LOG_LEVEL": "info",
        # Any AWS call at INIT lands on the fake Runtime API's server and fails the run.
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}/aws",
    }
    env.update(FUNCTION_ENV.get(name, {}))
    # Keep PATH only: nothing else from the caller's environment leaks in (no real credentials,
    # no AWS_PROFILE, no endpoint overrides).
    env["PATH"] = os.environ.get("PATH", "/usr/bin:/bin")
    return env


# What infra/template.yaml sets per function, on top of the Globals above.
HTTP = {"AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH": "true"}
CRM = {
    **HTTP,
    "CONNECTOR_CRM": "leadsquared",
    "LEADSQUARED_BASE_URL": "https://api-us11.leadsquared.com",
    "LEADSQUARED_ACCESS_KEY_REF": "env:CONNECTOR_SECRET_LSQ_ACCESS",
    "LEADSQUARED_SECRET_KEY_REF": "env:CONNECTOR_SECRET_LSQ_SECRET",
    "CONNECTOR_SECRET_LSQ_ACCESS": "u$bench-access-key",
    "CONNECTOR_SECRET_LSQ_SECRET": "bench-secret-key",
}
FUNCTION_ENV = {
    "consent-api": {**HTTP, "JWT_ROLE_CLAIM": "role", "JWT_PATIENT_ID_CLAIM": "patient_id"},
    "hie-sender": {"SES_CONFIGURATION_SET": "connector-hie"},
    "hl7-inbound": CRM,
    "crm-outbound": CRM,
}


class RuntimeApi(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """Records the first /next of the current run, then holds every request until released."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.ready = threading.Event()
        self.release = threading.Event()
        self.ready_at: float | None = None
        self.init_error: str | None = None
        self.aws_call: str | None = None

    def reset(self) -> None:
        self.ready.clear()
        self.release.clear()
        self.ready_at = None
        self.init_error = None
        self.aws_call = None


class Handler(http.server.BaseHTTPRequestHandler):
    server: RuntimeApi
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        now = time.perf_counter()
        if self.path.startswith(NEXT):
            if self.server.ready_at is None:
                self.server.ready_at = now
            self.server.ready.set()
            # Hold: no event is ever delivered; the process is killed meanwhile.
            self.server.release.wait(30)
            return
        self.aws(f"GET {self.path}")

    def aws(self, what: str) -> None:
        """A request that is not the Runtime API's: an AWS call (AWS_ENDPOINT_URL is here)."""
        if self.server.aws_call is None:
            target = self.headers.get("x-amz-target") or self.headers.get("host", "")
            self.server.aws_call = f"{what} {target}"
        self.send_error(500)

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        if not self.path.startswith("/2018-06-01/"):
            self.aws(f"POST {self.path}")
            return
        if self.path.startswith(INIT_ERROR):
            self.server.init_error = body or "(empty init error)"
            self.server.ready.set()
        self.send_response(202)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def one_run(binary: Path, env: dict[str, str], api: RuntimeApi, timeout: float) -> dict:
    api.reset()
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [str(binary)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=binary.parent,
        )
        deadline = started + timeout
        # os.wait4 rather than Popen.poll: it reaps with the child's resource usage.
        reaped = None
        while not api.ready.wait(0.005):
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                reaped = (status, usage)
                break
            if time.perf_counter() > deadline:
                break
        ready_at, init_error, aws_call = api.ready_at, api.init_error, api.aws_call
        exited = None
        if reaped is None:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                reaped = (status, usage)
        if reaped is None:
            proc.send_signal(signal.SIGKILL)
            _, status, usage = os.wait4(proc.pid, 0)
        else:
            status, usage = reaped
            exited = os.waitstatus_to_exitcode(status)
        proc.returncode = os.waitstatus_to_exitcode(status)
        api.release.set()
        out.seek(0)
        output = out.read().decode("utf-8", "replace")
    result = {"max_rss_kb": usage.ru_maxrss}
    if ready_at is not None and init_error is None and aws_call is None:
        result["ms"] = (ready_at - started) * 1000.0
    else:
        why = (
            f"INIT called AWS: {aws_call}"
            if aws_call
            else f"init error reported: {init_error}"
            if init_error
            else f"exited with status {exited} before asking for an event"
            if exited is not None
            else f"no /next within {timeout} s"
        )
        result["error"] = why
        result["output"] = output[-3000:]
    return result


def quantile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank quantile."""
    rank = max(1, min(len(sorted_values), int(-(-p * len(sorted_values) // 1))))
    return sorted_values[rank - 1]


def measure(binary: Path, runs: int, warmup: int, timeout: float, name: str | None) -> dict:
    name = name or (binary.parent.name if binary.name == "bootstrap" else binary.name)
    api = RuntimeApi()
    thread = threading.Thread(target=api.serve_forever, daemon=True)
    thread.start()
    try:
        env = function_env(name, api.server_address[1])
        times, rss, failures = [], [], []
        for i in range(warmup + runs):
            r = one_run(binary, env, api, timeout)
            if "error" in r:
                failures.append(r)
                if len(failures) >= 3 and not times:
                    break  # it never starts: no point in repeating
                continue
            if i >= warmup:
                times.append(r["ms"])
                rss.append(r["max_rss_kb"])
    finally:
        api.release.set()
        api.shutdown()
        api.server_close()
    size = binary.stat().st_size
    summary = {
        "function": name,
        "binary": str(binary),
        "size_bytes": size,
        "runs": len(times),
        "failures": len(failures),
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }
    if times:
        s = sorted(times)
        summary.update(
            median_ms=round(statistics.median(s), 2),
            p90_ms=round(quantile(s, 0.9), 2),
            min_ms=round(s[0], 2),
            max_ms=round(s[-1], 2),
            max_rss_mb=round(max(rss) / 1024, 1),
        )
    if failures:
        summary["first_failure"] = failures[0]
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("binaries", nargs="+", type=Path, help="bootstrap binaries")
    parser.add_argument("--runs", type=int, default=30, help="measured runs per binary (30)")
    parser.add_argument("--warmup", type=int, default=2, help="uncounted runs first (2)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait per run")
    parser.add_argument("--name", help="AWS_LAMBDA_FUNCTION_NAME (default: the folder's name)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    results = [measure(b.resolve(), args.runs, args.warmup, args.timeout, args.name)
               for b in args.binaries]
    print("| function | stripped size | runs | median to ready | p90 | min | max | peak RSS | load avg |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        size = f"{r['size_bytes'] / 1e6:.2f} MB ({r['size_bytes'] / 2**20:.2f} MiB)"
        if r["runs"]:
            print(f"| {r['function']} | {size} | {r['runs']} | {r['median_ms']:.1f} ms "
                  f"| {r['p90_ms']:.1f} ms | {r['min_ms']:.1f} ms | {r['max_ms']:.1f} ms "
                  f"| {r['max_rss_mb']:.1f} MB | {r['loadavg_1m']} |")
        else:
            print(f"| {r['function']} | {size} | 0 | FAILED | | | | | {r['loadavg_1m']} |")
    for r in results:
        if r.get("first_failure"):
            f = r["first_failure"]
            print(f"\n{r['function']}: {r['failures']} failed run(s): {f['error']}\n"
                  f"--- output ---\n{f.get('output', '').rstrip()}\n---", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0 if all(r["runs"] and not r["failures"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
