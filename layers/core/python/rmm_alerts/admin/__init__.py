"""The admin REST API (``rules_api``, base path ``/v1``): services per resource, their SQL, and the
Powertools resolver that routes to them (:mod:`rmm_alerts.admin.app`)."""
