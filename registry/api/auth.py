"""Who is calling, and may they: bearer tokens, roles per route, the OpenAPI security docs.

Every route's role is declared here, in one table, so a reviewer sees the whole policy at once;
routes not listed need `viewer` to read and `editor` to write.
"""
from __future__ import annotations

from apispec import BasePlugin
from flask import Flask, current_app, g, request

from registry.api.problems import problem
from registry.services import tokens
from registry.services.context import request_facts

PUBLIC = {"ops.healthz", "ops.readyz", "ops.swagger_asset", "api-docs.openapi_json",
          "api-docs.openapi_swagger_ui", "prometheus_metrics", "static", "console_root"}
CONSOLE = "console."  # the console signs people in with its own session (registry/console)
ROLES = {
    ("models.Model", "DELETE"): "admin",
    ("criteria.Criteria", "PUT"): "admin",
    ("stages.promote", "POST"): "deployer",  # forced promotion: admin, checked by the route
    ("stages.rollback", "POST"): "deployer",
    ("stages.declare_stage", "POST"): "admin", ("stages.remove_stage", "DELETE"): "admin",
    ("approvals.create_request", "POST"): "deployer", ("approvals.approve", "POST"): "deployer",
    ("approvals.reject", "POST"): "deployer", ("approvals.cancel", "POST"): "deployer",
    ("deployments.report", "PUT"): "deployer", ("deployments.forget", "DELETE"): "deployer",
    ("deployments.model_alert", "POST"): "deployer",
    ("deployments.alertmanager", "POST"): "deployer",
    ("versions.change_stage", "POST"): "deployer",
    ("webhooks.Webhooks", "GET"): "admin", ("webhooks.Webhooks", "POST"): "admin",
    ("webhooks.Webhook", "GET"): "admin", ("webhooks.Webhook", "PATCH"): "admin",
    ("webhooks.Webhook", "DELETE"): "admin", ("webhooks.rotate_secret", "POST"): "admin",
    ("webhooks.send_test", "POST"): "admin", ("webhooks.list_deliveries", "GET"): "admin",
    ("webhooks.redeliver", "POST"): "admin",
    ("tokens.Tokens", "GET"): "admin", ("tokens.Tokens", "POST"): "admin",
    ("tokens.revoke", "DELETE"): "admin", ("audit.list_audit", "GET"): "admin",
}
UNAUTHORIZED = "A valid API token is required: send Authorization: Bearer <token>."


def required_role(endpoint: str, method: str) -> str | None:
    """The least role that may call this route; None for public routes."""
    if endpoint in PUBLIC or endpoint.startswith(CONSOLE):
        return None
    method = "GET" if method == "HEAD" else method
    return ROLES.get((endpoint, method), "viewer" if method == "GET" else "editor")


def bearer_token(header: str) -> str | None:
    """The token of an `Authorization: Bearer <token>` header value, else None."""
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _authenticate():
    request_facts.set({"request_id": g.get("request_id"), "client": request.remote_addr})
    needed = required_role(request.endpoint or "", request.method) if request.endpoint else None
    if not current_app.config["MODELYARD"]["auth"]["enabled"]:
        g.actor, g.role, g.subject = "anonymous", "admin", "anonymous"
        return None
    token = bearer_token(request.headers.get("Authorization", ""))
    row = tokens.authenticate(token) if token else None
    if row is not None:
        g.actor, g.role, g.subject = f"token:{row.name}", row.role, row.subject
    if needed is None or request.method == "OPTIONS":
        return None
    if row is None:  # the same answer whether the token is unknown, revoked or absent
        return problem(401, "Unauthorized", UNAUTHORIZED, slug="unauthorized",
                       headers={"WWW-Authenticate": 'Bearer realm="modelyard"'})
    if not tokens.role_at_least(row.role, needed):
        return problem(403, "Forbidden", f"This needs the {needed} role; your token has "
                       f"{row.role}.", slug="forbidden", required_role=needed)
    return None


def install_auth(app: Flask) -> None:
    app.before_request(_authenticate)


class SecurityPlugin(BasePlugin):
    """Documents each operation's role, bearer security and 401/403 answers."""

    def operation_helper(self, path=None, operations=None, **kwargs):
        rule = kwargs.get("rule")
        if rule is None or not operations:
            return
        for method, operation in operations.items():
            role = required_role(rule.endpoint, method.upper())
            if role is None:
                operation["security"] = []
                continue
            operation["security"] = [{"bearerAuth": []}]
            operation["x-required-role"] = role
            operation.setdefault("responses", {})
            operation["responses"].setdefault("401", "UNAUTHORIZED")
            operation["responses"].setdefault("403", "FORBIDDEN")
