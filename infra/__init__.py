"""The AWS CDK app of rmm-alerts (entry point: ``infra/app.py``)."""
