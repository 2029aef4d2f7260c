"""CDK app entry point: ``npx cdk synth`` / ``npx cdk deploy`` run this (see cdk.json).

Registers the cdk-nag AwsSolutions and Serverless packs as policy-validation plugins of the whole app: any
unacknowledged finding fails ``cdk synth`` / ``cdk deploy`` (report in cdk.out/validation-report.json).
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks, ServerlessChecks

from infra import constants as c
from infra.stack import RmmAlertsStack
from infra.stack_config import CTX_STACK_NAME, StackConfig


def build(app: App) -> RmmAlertsStack:
    """Add the stack (configured from the app's context) and the cdk-nag checks to ``app``."""
    stack_name = str(app.node.try_get_context(CTX_STACK_NAME) or c.DEFAULT_STACK_NAME)
    stack = RmmAlertsStack(
        app,
        stack_name,
        config=StackConfig.from_context(app.node),
        description="rmm-alerts: RMM webhooks to PSA tickets",
    )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True), ServerlessChecks(app, verbose=True))
    return stack


def main() -> None:
    app = App()
    build(app)
    app.synth()


if __name__ == "__main__":
    main()
