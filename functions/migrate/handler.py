"""Migration Lambda: applies every pending migration to the database on each deploy.

Invoked by the stack's ``aws_cdk.triggers.Trigger`` after the database is up and before the
service functions are updated; a failure fails the deploy. The work itself lives in the
``core`` layer (``rmm_alerts.migrations``).
"""

from __future__ import annotations

from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # Imported here, with the database driver, so that importing the handler stays cheap (as for
    # every function: docs/performance.md, cold imports).
    from rmm_alerts.migrations import lambda_handler

    return lambda_handler(event, context)
