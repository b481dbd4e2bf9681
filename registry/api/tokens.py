"""Routes for API tokens and the audit trail (admin only)."""
from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from marshmallow import fields, validate

from registry.api.blueprint import Blueprint
from registry.api.context import current_actor
from registry.api.schemas import TIME, PageArgs, Strict, instant
from registry.services import audit as audit_service
from registry.services import tokens as token_service

blp = Blueprint("tokens", __name__, url_prefix="/api/v1", description="API tokens")
audit_blp = Blueprint("audit", __name__, url_prefix="/api/v1", description="Audit trail")


class TokenCreateSchema(Strict):
    name = fields.String(required=True, validate=validate.Regexp(
        r"^[A-Za-z0-9][A-Za-z0-9 ._:@()-]{0,127}$", error="1-128 letters, digits, spaces, ._:@()-"))
    role = fields.String(required=True, validate=validate.OneOf(token_service.ROLES))
    subject = fields.String(validate=validate.Length(min=1, max=256), metadata={
        "description": "the person or system behind the token (default: its name); a "
                       "subject's tokens count once among a request's approvers"})


class TokenSchema(ma.Schema):
    id = fields.Integer()
    name = fields.String()
    role = fields.String()
    subject = fields.String()
    created_by = fields.String()
    created_at = fields.String(metadata=TIME)
    last_used_at = fields.String(allow_none=True, metadata=TIME)
    revoked_at = fields.String(allow_none=True, metadata=TIME)


class NewTokenSchema(TokenSchema):
    token = fields.String(metadata={"description": "shown only in this answer"})


class AuditArgs(PageArgs):
    model = fields.String(validate=validate.Length(max=128))
    actor = fields.String(validate=validate.Length(max=256))
    action = fields.String(validate=validate.Length(max=64))
    since = instant()


class AuditRecordSchema(ma.Schema):
    seq = fields.Integer()
    at = fields.String(metadata=TIME)
    actor = fields.String()
    action = fields.String()
    model = fields.String(allow_none=True)
    version = fields.Integer(allow_none=True)
    request_id = fields.String(allow_none=True)
    client_address = fields.String(allow_none=True)
    summary = fields.Dict()
    previous_hash = fields.String()
    hash = fields.String()


class AuditPageSchema(ma.Schema):
    items = fields.List(fields.Nested(AuditRecordSchema))
    next_cursor = fields.String(allow_none=True)


@blp.route("/tokens")
class Tokens(MethodView):
    @blp.response(200, TokenSchema(many=True))
    def get(self):
        """Every token (never its value)."""
        return token_service.list_tokens()

    @blp.arguments(TokenCreateSchema)
    @blp.response(201, NewTokenSchema)
    def post(self, body):
        """A new token with a role; its value is shown once."""
        return token_service.create_token(body["name"], body["role"], actor=current_actor(),
                                          subject=body.get("subject"))


@blp.route("/tokens/<int(min=1, max=2147483647):token_id>", methods=["DELETE"])
@blp.response(200, TokenSchema)
def revoke(token_id):
    """Revoke a token; it stops working at once."""
    return token_service.revoke_token(token_id, actor=current_actor())


@audit_blp.route("/audit", methods=["GET"])
@audit_blp.arguments(AuditArgs, location="query")
@audit_blp.response(200, AuditPageSchema)
def list_audit(args):
    """Who did what, when, from which request: newest first."""
    return audit_service.list_audit(**args).as_dict()
