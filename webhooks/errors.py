"""Errors of the webhook use cases; registry/api maps them to problem+json."""
from __future__ import annotations


class WebhookError(Exception):
    def __init__(self, detail: str, **extensions) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


class SubscriptionNotFound(WebhookError):
    pass


class DeliveryNotFound(WebhookError):
    pass


class InvalidSubscription(WebhookError):
    """422: the URL or filters cannot be used; `errors` names the field."""
