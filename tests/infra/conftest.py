"""One synthesis of the CDK app per test session, shared by every infrastructure test.

The app is built exactly as ``npx cdk synth`` builds it (``infra.app.build`` with the context of
``cdk.json``), except that the layer is a cheap stub (``layerBuild=stub``: the core package
without its wheels; ``test_infra_layer.py`` exercises the real pip build) and validation failures
are left for the tests to report instead of aborting the synthesis.
"""

from __future__ import annotations

import os

# Keep jsii's node-version banner out of test output: before aws_cdk starts its node process. The
# README recommends a supported Node (22 or 24); CI boxes may still run an end-of-life one.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "14,16,18,19,20,21,23")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack, assertions, cx_api

from infra.app import build
from infra.constants import REPO_ROOT
from infra.stack import RmmAlertsStack

# Deploy-time parameters for the synthesized stack: every optional feature switched on.
TEST_CONTEXT: dict[str, Any] = {
    "layerBuild": "stub",
    "notificationSenderIdentity": "alerts.example.com",
    "psaBaseUrl": "https://psa.example.com",
    "adminUiOrigins": "https://admin.example.com",
    "alarmEmail": "oncall@example.com",
    # Tests read the validation report instead of getting an exception from synth().
    "@aws-cdk/core:failSynthOnValidationErrors": False,
    # Resources name their staged asset (to check what each function ships).
    "aws:cdk:enable-asset-metadata": True,
}


@dataclass(frozen=True)
class Synth:
    app: App
    stack: RmmAlertsStack
    assembly: cx_api.CloudAssembly
    template: assertions.Template

    @property
    def resources(self) -> Mapping[str, Any]:
        res: Mapping[str, Any] = self.template.to_json()["Resources"]
        return res

    def logical_id(self, construct: Any) -> str:
        child = construct.node.default_child
        return Stack.of(construct).resolve(child.logical_id)  # type: ignore[no-any-return]

    def props(self, construct: Any) -> Mapping[str, Any]:
        props: Mapping[str, Any] = self.resources[self.logical_id(construct)]["Properties"]
        return props


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    context = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]
    context.update(TEST_CONTEXT)
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = App(context=context, outdir=str(outdir))
    stack = build(app)
    assembly = app.synth()
    # Template.from_stack reuses the synthesis above (Stage.synth is memoized).
    template = assertions.Template.from_stack(stack)
    return Synth(app=app, stack=stack, assembly=assembly, template=template)


def assembly_dir(s: Synth) -> Path:
    return Path(s.assembly.directory)


@pytest.fixture
def s(synth: Synth) -> Synth:
    """Short name for the session's synthesis."""
    return synth
