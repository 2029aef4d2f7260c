"""The TacticalRMM alert-template webhook we publish (README "TacticalRMM"; ``alertTemplate`` in docs/admin-api.md).

Tactical webhooks are user-defined REST actions: an admin pastes URL, headers and body into a
"URL Action" (method POST) and picks it as the alert template's failure and resolved actions.
How Tactical renders a body (``core/utils.py`` ``_run_url_rest_action`` in amidaware/tacticalrmm):

1. every ``{{client|site|agent|global|alert.<path>}}`` is replaced by ``str(value)``, with **no JSON
   escaping**; the instance is the ``Alert``, so ``{{agent.*}}``/``{{client.*}}``/``{{site.*}}`` resolve
   through ``alert.agent``; a missing or falsy value (None, "", 0, False) renders as ``None``;
2. ``_sanitize_webhook``: control characters other than tab/newline/CR become spaces and a lone
   backslash is doubled (Windows paths);
3. ``json.loads(body, strict=False)`` (raw newlines inside strings are fine). If that fails, Tactical
   only logs it and posts the rendered text as a JSON *string*;
4. the result is re-serialized with ``json.dumps`` and POSTed (8 s timeout, no retry).

So the body quotes every value (``None`` unquoted would break the JSON; the normalizer treats
``"None"`` as missing) and keeps one field per line, free text (message, names) first and the
identity fields and the literal event kind last. A value holding ``x", "alertId": "9`` makes a
duplicate key; ``json.loads`` keeps the last one, which is then the real one. When a raw ``"``
breaks the JSON instead, the normalizer recovers the fields from the text, also last-wins.
Caveats: docs/payloads.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

__all__ = [
    "HEADERS",
    "RESOLVE_BODY",
    "TEMPLATE_VERSION",
    "TRIGGER_BODY",
    "alert_template",
    "delivered_for_test",
    "render_for_test",
]

TEMPLATE_VERSION: Final = "1"

# Paste as the body of the URL Action used as the alert template's *failure* action.
TRIGGER_BODY: Final[str] = """{
  "message": "{{alert.message}}",
  "checkName": "{{alert.assigned_check.readable_desc}}",
  "taskName": "{{alert.assigned_task.name}}",
  "clientName": "{{client.name}}",
  "siteName": "{{site.name}}",
  "hostname": "{{agent.hostname}}",
  "templateVersion": "1",
  "alertId": "{{alert.id}}",
  "alertType": "{{alert.alert_type}}",
  "severity": "{{alert.severity}}",
  "alertTime": "{{alert.alert_time}}",
  "agentId": "{{agent.agent_id}}",
  "clientId": "{{client.id}}",
  "siteId": "{{site.id}}",
  "checkId": "{{alert.assigned_check.id}}",
  "checkType": "{{alert.assigned_check.check_type}}",
  "taskId": "{{alert.assigned_task.id}}",
  "event": "trigger"
}"""

# Paste as the body of the URL Action used as the alert template's *resolved* action.
# Tactical calls alert.resolve() before running it, so {{alert.resolved_on}} is set.
RESOLVE_BODY: Final[str] = """{
  "message": "{{alert.message}}",
  "checkName": "{{alert.assigned_check.readable_desc}}",
  "taskName": "{{alert.assigned_task.name}}",
  "clientName": "{{client.name}}",
  "siteName": "{{site.name}}",
  "hostname": "{{agent.hostname}}",
  "templateVersion": "1",
  "alertId": "{{alert.id}}",
  "alertType": "{{alert.alert_type}}",
  "severity": "{{alert.severity}}",
  "alertTime": "{{alert.alert_time}}",
  "resolvedOn": "{{alert.resolved_on}}",
  "agentId": "{{agent.agent_id}}",
  "clientId": "{{client.id}}",
  "siteId": "{{site.id}}",
  "checkId": "{{alert.assigned_check.id}}",
  "checkType": "{{alert.assigned_check.check_type}}",
  "taskId": "{{alert.assigned_task.id}}",
  "event": "resolve"
}"""

# Paste (as JSON) into the URL Action's headers; replace the placeholder with the integration secret.
HEADERS: Final[dict[str, str]] = {
    "Content-Type": "application/json",
    "X-Webhook-Secret": "<your webhook secret>",
}


def alert_template(
    webhook_url: str,
    secret_placeholder: str = "<webhook secret>",  # noqa: S107 - a placeholder, not a secret
) -> dict[str, Any]:
    """The ``alertTemplate`` object of ``POST /v1/integrations`` for ``tacticalrmm``.

    ``secret_placeholder`` is what goes in ``X-Webhook-Secret``: the real secret when the caller is
    showing it once (creation, rotation), else a placeholder."""
    return {
        "url": webhook_url,
        "headers": {**HEADERS, "X-Webhook-Secret": secret_placeholder},
        "triggerBody": TRIGGER_BODY,
        "resolveBody": RESOLVE_BODY,
    }


# ---------------------------------------------------------------------------------------------
# Test helpers: a re-implementation of Tactical's rendering, to prove the template survives it.

# Tactical's tacticalrmm/utils.py RE_DB_VALUE: groups (whole placeholder, model, dotted path).
_RE_DB_VALUE: Final = re.compile(r"(\{\{\s*(client|site|agent|global|alert)(?:\.([\w\-\s\.]+))+\s*\}\})")
_CONTROL_CHARS: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LONE_BACKSLASH: Final = re.compile(r"(?<!\\)(\\)(?![\\nrt])")


def render_for_test(body: str, variables: Mapping[str, object]) -> str:
    """Render ``body`` the way Tactical does, up to the text it hands to ``json.loads``.

    ``variables`` maps dotted names (``"alert.id"``, ``"agent.hostname"``) to values. As in Tactical's
    ``get_db_value``, an absent or falsy value becomes ``None`` and every value is ``str()``-ed with
    no escaping; replacements are plain sequential ``str.replace`` calls like Tactical's."""
    rendered = body
    for placeholder, model, path in _RE_DB_VALUE.findall(body):
        value = variables.get(f"{model}.{path}".strip())
        rendered = rendered.replace(placeholder, str(value if value else None))
    # Tactical's _sanitize_webhook: keeps tab/newline/CR, blanks other control chars, doubles
    # backslashes that would otherwise start an invalid JSON escape.
    rendered = _CONTROL_CHARS.sub(" ", rendered)
    return _LONE_BACKSLASH.sub(r"\\\\", rendered)


def delivered_for_test(rendered: str) -> object:
    """What our webhook decodes from the POST Tactical makes with ``rendered``: the parsed object,
    or, when the text is not valid JSON, the text itself (Tactical posts ``json.dumps(text)``)."""
    try:
        parsed: object = json.loads(rendered, strict=False)
    except ValueError:
        parsed = rendered
    decoded: object = json.loads(json.dumps(parsed))
    return decoded
