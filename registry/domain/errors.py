"""Domain errors name the condition; registry/api maps them to HTTP problems."""
from __future__ import annotations

from webhooks.errors import ServiceError  # stdlib-only: the one base both packages share


class DomainError(ServiceError):
    """The registry's domain errors."""


class NotFound(DomainError):
    pass


class ModelNotFound(NotFound):
    pass


class VersionNotFound(NotFound):
    pass


class Conflict(DomainError):
    """The request is valid but conflicts with the current state."""


class ModelExists(Conflict):
    pass


class StageConflict(Conflict):
    pass


class StageExists(Conflict):
    pass


class ApprovalRequired(Conflict):
    """The stage needs approved promotion requests; a direct promote is refused."""


class UnknownStage(NotFound):
    """A stage name the model never declared (and not a built-in)."""


class InvalidInput(DomainError):
    """Well-formed but unacceptable content (422)."""


class BadFilter(InvalidInput):
    """A filter or order_by expression that does not parse; `position` is the 0-based offset."""


class IdempotencyMismatch(InvalidInput):
    pass


class StaleVersion(DomainError):
    """A compare-and-set lost: someone changed the state first."""


class DigestMismatch(InvalidInput):
    """The bytes received do not hash to the digest the client sent."""


class ArtifactTooLarge(DomainError):
    """The upload exceeds the configured size limit (413)."""


class IncompleteUpload(DomainError):
    """The body ended before its declared length (the client went away)."""


class Unauthorized(DomainError):
    """No live credentials: an unknown or revoked token."""


class RequestNotFound(NotFound):
    pass


class Forbidden(DomainError):
    """The caller's role does not allow this change (403); `required_role` says which does."""


class CriteriaNotMet(InvalidInput):
    """The version does not meet the stage's acceptance criteria; `evaluation` says why."""


class NoRollbackTarget(Conflict):
    """No version qualifies as a rollback target; the detail explains why."""


class SelfApproval(Forbidden):
    """The requester of a promotion may not approve it (four eyes)."""
