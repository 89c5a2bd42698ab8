#!/usr/bin/env python3
"""Expands a SAM template into the plain CloudFormation that SAM would deploy, offline.

cfn-lint (1.x) no longer runs the SAM transform itself in every case, so a dangling reference
inside an AWS::Serverless::* resource can slip through. This runs the SAM translator that the SAM
CLI bundles (samtranslator.translator.transform.transform) without credentials or network: every
local CodeUri is replaced by a dummy S3 URI first (what `sam package` would upload), and the
managed-policy map the translator normally fetches from IAM is supplied locally.

Usage: expand_sam.py TEMPLATE OUTPUT_JSON
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

DUMMY_CODE_URI = "s3://bucket/key"

# The AWS managed policies SAM attaches by name (the translator would otherwise ask IAM for their
# ARNs, which needs credentials). Only names are mapped; nothing else is read from these.
MANAGED_POLICIES = {
    name: f"arn:aws:iam::aws:policy/{path}{name}"
    for name, path in [
        ("AWSLambdaBasicExecutionRole", "service-role/"),
        ("AWSXrayWriteOnlyAccess", ""),
        ("AWSLambdaSQSQueueExecutionRole", "service-role/"),
        ("AWSLambdaRole", "service-role/"),
        ("AWSLambdaDynamoDBExecutionRole", "service-role/"),
        ("AWSLambdaKinesisExecutionRole", "service-role/"),
    ]
}


class OfflinePolicyLoader(ManagedPolicyLoader):
    """Answers the translator's managed-policy lookups from MANAGED_POLICIES."""

    def __init__(self) -> None:  # no IAM client
        self._policy_map = dict(MANAGED_POLICIES)

    def load(self) -> dict[str, str]:
        return self._policy_map


def replace_code_uris(template: dict) -> int:
    """Points every serverless function/layer at a dummy S3 object; returns how many."""
    count = 0
    for resource in template.get("Resources", {}).values():
        kind = resource.get("Type")
        props = resource.get("Properties") or {}
        if kind == "AWS::Serverless::Function" and "InlineCode" not in props and "ImageUri" not in props:
            props["CodeUri"] = DUMMY_CODE_URI
            count += 1
        elif kind == "AWS::Serverless::LayerVersion":
            props["ContentUri"] = DUMMY_CODE_URI
            count += 1
        resource["Properties"] = props
    globals_fn = template.get("Globals", {}).get("Function", {})
    globals_fn.pop("CodeUri", None)
    return count


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    source, output = Path(argv[1]), Path(argv[2])
    # The translator resolves AWS::Region/AWS::Partition from the environment; any region will do.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    template = yaml_parse(source.read_text())
    replaced = replace_code_uris(template)
    try:
        expanded = transform(template, {}, OfflinePolicyLoader())
    except InvalidDocumentException as err:
        for cause in err.causes:
            print(f"{source}: SAM transform error: {cause.message}", file=sys.stderr)
        return 1
    output.write_text(json.dumps(expanded, indent=2, sort_keys=True, default=str) + "\n")
    kinds: dict[str, int] = {}
    for resource in expanded.get("Resources", {}).values():
        kinds[resource["Type"]] = kinds.get(resource["Type"], 0) + 1
    print(f"expanded {source} ({replaced} code URIs replaced): {sum(kinds.values())} resources -> {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
