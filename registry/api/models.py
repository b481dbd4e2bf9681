"""Routes for registered models."""
from __future__ import annotations

from flask.views import MethodView

from registry.api.blueprint import Blueprint
from registry.api.context import caller, current_actor
from registry.api.schemas import ModelCreateSchema, ModelListArgs, ModelPageSchema, ModelPatchSchema, ModelSchema
from registry.services import models as model_service

blp = Blueprint("models", __name__, url_prefix="/api/v1/models", description="Registered models")


@blp.route("")
class Models(MethodView):
    @blp.arguments(ModelListArgs, location="query")
    @blp.response(200, ModelPageSchema)
    def get(self, args):
        """List models by name, filtered by name substring, tags and held stage."""
        tags = dict(tag.split(":", 1) for tag in args.pop("tag"))
        return model_service.list_models(tags=tags, **args).as_dict()

    @blp.arguments(ModelCreateSchema)
    @blp.response(201, ModelSchema)
    def post(self, body):
        """Register a model name."""
        return model_service.create_model(body.pop("name"), actor=current_actor(), **body)


@blp.route("/<string:model>")
class Model(MethodView):
    @blp.response(200, ModelSchema)
    def get(self, model):
        """A model with its latest version and its production and staging holders."""
        return model_service.get_model(model)

    @blp.arguments(ModelPatchSchema)
    @blp.response(200, ModelSchema)
    def patch(self, body, model):
        """Change the description; merge tags (a null value removes the tag)."""
        return model_service.update_model(model, **caller(), **body)

    @blp.response(204)
    def delete(self, model):
        """Delete a model and its versions (409 while a version holds production or staging)."""
        model_service.delete_model(model, actor=current_actor())
