"""cdk-nag (v3) acknowledgments: every one names the rule (and finding) and carries a reason."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule: str, reason: str, *findings: str) -> None:
    """Acknowledge ``rule`` on ``scope`` and everything below it.

    With ``findings`` (e.g. ``"Resource::*"``) only those findings of a granular rule such as
    AwsSolutions-IAM5 are acknowledged, each as ``rule[finding]``; any other finding still fails.
    """
    if not reason.strip():
        raise ValueError(f"{rule}: an acknowledgment needs a reason")
    ids = [f"{rule}[{finding}]" for finding in findings] or [rule]
    Validations.of(scope).acknowledge(*(Acknowledgment(id=rule_id, reason=reason) for rule_id in ids))


def arn_finding(service: str, resource: str) -> str:
    """The IAM5 finding for a wildcard resource ARN in this stack's account and region."""
    return f"Resource::arn:<AWS::Partition>:{service}:<AWS::Region>:<AWS::AccountId>:{resource}"
