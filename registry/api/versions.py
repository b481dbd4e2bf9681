"""Routes for model versions, their metrics, and version search."""
from __future__ import annotations

from flask import Response, current_app
from flask.views import MethodView

from registry.api.blueprint import Blueprint
from registry.api.context import caller, current_actor, idempotency_key, idempotency_ttl_s
from registry.api.schemas import (MetricHistoryArgs, MetricPageSchema, MetricsRecordedSchema,
                                  MetricsRecordSchema, StageChangeSchema, VersionCreateSchema,
                                  VersionPageSchema, VersionPatchSchema, VersionSchema,
                                  VersionSearchArgs)
from registry.services import metrics as metric_service
from registry.services import search
from registry.services import versions as version_service

blp = Blueprint("versions", __name__, url_prefix="/api/v1", description="Model versions")
VERSION = "<int(min=1, max=2147483647):version>"


def _search(args: dict, model: str | None) -> Response:
    """The page, sent as built: the views already have VersionPageSchema's shape (test_search
    holds the two equal), and dumping them through marshmallow again costs a search dearly
    (docs/benchmarks.md)."""
    page = search.search_versions(model=model, filter_text=args.get("filter"),
                                  order_by=args.get("order_by"), stage=args.get("stage"),
                                  status=args.get("status"), limit=args["limit"],
                                  cursor=args.get("cursor"))
    return current_app.json.response(page.as_dict())


@blp.route("/models/<string:model>/versions")
class Versions(MethodView):
    @blp.arguments(VersionSearchArgs, location="query")
    @blp.response(200, VersionPageSchema)
    def get(self, args, model):
        """Search this model's versions with `filter` and `order_by`."""
        return _search(args, model)

    @blp.arguments(VersionCreateSchema)
    @blp.response(201, VersionSchema)
    def post(self, body, model):
        """Register a new version (status `pending`) with its run metadata; with `finalize` and
        a `source_uri`, ready at once."""
        finalize = body.pop("finalize", False)
        view, replayed = version_service.register_version(
            model, body, actor=current_actor(), idempotency_key=idempotency_key(),
            idempotency_ttl_s=idempotency_ttl_s(), finalize=finalize)
        return view, 201, {"Idempotent-Replayed": "true"} if replayed else {}


@blp.route("/versions")
class AllVersions(MethodView):
    @blp.arguments(VersionSearchArgs, location="query")
    @blp.response(200, VersionPageSchema)
    def get(self, args):
        """Search versions across all models."""
        return _search(args, None)


@blp.route(f"/models/<string:model>/versions/{VERSION}")
class Version(MethodView):
    @blp.response(200, VersionSchema)
    def get(self, model, version):
        """A version with its run metadata, tags, stage and status."""
        return version_service.get_version(model, version)

    @blp.arguments(VersionPatchSchema)
    @blp.response(200, VersionSchema)
    def patch(self, body, model, version):
        """Change the description; merge tags (a null value removes the tag)."""
        return version_service.update_version(model, version, actor=current_actor(), **body)


@blp.route(f"/models/<string:model>/versions/{VERSION}/stage", methods=["POST"])
@blp.arguments(StageChangeSchema)
@blp.response(200, VersionSchema)
def change_stage(body, model, version):
    """Move a version to `none` or `archived` (promotion and rollback have their own routes)."""
    return version_service.set_stage(model, version, body["stage"], reason=body.get("reason"),
                                     **caller())


@blp.route(f"/models/<string:model>/versions/{VERSION}/metrics")
class Metrics(MethodView):
    @blp.arguments(MetricHistoryArgs, location="query")
    @blp.response(200, MetricPageSchema)
    def get(self, args, model, version):
        """Metric history, oldest first."""
        return metric_service.metric_history(model, version, **args).as_dict()

    @blp.arguments(MetricsRecordSchema)
    @blp.response(201, MetricsRecordedSchema)
    def post(self, body, model, version):
        """Append metric values (source training, evaluation or live); history is kept."""
        return metric_service.record_metrics(model, version, body["metrics"], source=body["source"],
                                             recorded_at=body.get("recorded_at"),
                                             actor=current_actor())
