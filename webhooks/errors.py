"""Errors of the webhook use cases and of cursors; registry/api maps them to problem+json
through the same table as the registry's domain errors (same shape: `detail`, `extensions`).
Their base is this package's own because webhooks/ never imports registry/."""
from __future__ import annotations


class ServiceError(Exception):
    """The base of every error a use case raises on purpose, the registry's domain errors
    included: `detail` says what went wrong, `extensions` are facts a client can act on.
    registry/api maps each kind to problem+json in one table."""

    def __init__(self, detail: str, **extensions) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


class WebhookError(ServiceError):
    """The webhook use cases' errors."""


class SubscriptionNotFound(WebhookError):
    pass


class DeliveryNotFound(WebhookError):
    pass


class InvalidSubscription(WebhookError):
    """422: the URL or filters cannot be used; `errors` names the field."""


class InvalidCursor(WebhookError):
    """422: a list's cursor is not one this server issued."""
