"""The pull feed of events, with long-poll."""
from __future__ import annotations

from flask import current_app

from registry.api.blueprint import Blueprint
from registry.api.schemas import EventArgs, EventPageSchema
from registry.services import events as event_service

blp = Blueprint("events", __name__, url_prefix="/api/v1", description="Event feed")


@blp.route("/events", methods=["GET"])
@blp.arguments(EventArgs, location="query")
@blp.response(200, EventPageSchema)
def list_events(args):
    """Events after `after` in seq order; `wait` holds the request until one commits."""
    wait = min(args["wait"], current_app.config["MODELYARD"]["api"]["events_max_wait_s"])
    return event_service.list_events(after=args["after"], model=args.get("model"),
                                     type_=args.get("type"), stage=args.get("stage"),
                                     limit=args["limit"], wait_s=wait)
