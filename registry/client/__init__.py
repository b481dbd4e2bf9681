"""The Python client: every API operation, plus helpers for the jobs people do most.

    from registry.client import Client
    Client("http://models:8080", token).register("fraud", "out/", metrics={"auc": 0.91})

The URL and token default to MODELYARD_URL / MODELYARD_TOKEN, then to the client config file
(`~/.config/modelyard/client.toml`, or the file MODELYARD_CLIENT_CONFIG names) with keys `url`
and `token`. Errors arrive as typed exceptions built from the server's problem+json. This module
needs only requests (and rich for progress bars), not the server's dependencies.
"""
from __future__ import annotations

from registry.client.errors import (BadRequest, ChecksumMismatch, Conflict,  # noqa: F401
                                    CriteriaNotMet, Forbidden, ModelyardError, NotFound,
                                    PreconditionFailed, ServerError, Unauthorized)
from registry.client.approvals import ApprovalsAPI
from registry.client.deployments import DeploymentsAPI
from registry.client.events import EventsAPI
from registry.client.files import FilesAPI
from registry.client.models import ModelsAPI
from registry.client.stages import StagesAPI
from registry.client.transport import DEFAULT_URL, Transport, client_settings  # noqa: F401


class Client(FilesAPI, StagesAPI, ApprovalsAPI, DeploymentsAPI, ModelsAPI, EventsAPI,
             Transport):
    """A Modelyard API client; safe to share between threads of one process.

    GET, PUT and DELETE are retried on resets and 429/502/503/504 (honouring Retry-After); a
    refused connection is tried once more at once, then raises requests.ConnectionError. POSTs
    are retried only when they carry an Idempotency-Key, which promote, rollback and version
    creation always send.
    """
