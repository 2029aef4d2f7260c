"""Migration Lambda: applies every pending migration to the database on each deploy.

Invoked by the stack's ``aws_cdk.triggers.Trigger`` after the database is up and before the
service functions are updated; a failure fails the deploy. The work itself lives in the
``core`` layer (``rmm_alerts.migrations``).
"""

from rmm_alerts.migrations import lambda_handler as handler

__all__ = ["handler"]
