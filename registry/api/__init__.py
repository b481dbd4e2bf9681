"""The Flask edge: blueprints, schemas, problem+json, request guards."""
from __future__ import annotations

import http

from flask import Flask
from flask_smorest import Api
from flask_smorest.utils import prepare_response

from registry.api import (approvals, criteria, deployments, events, files, models, ops,
                          reports, stages, tokens, versions, webhooks)
from registry.api.auth import SecurityPlugin, install_auth
from registry.api.guards import install_guards
from registry.api.problems import ProblemSchema, register_problem_handlers

PROBLEM_JSON = "application/problem+json"


class ModelyardApi(Api):
    """flask-smorest, with errors as RFC 9457 problems in the documentation and on the wire."""

    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self):
        register_problem_handlers(self._app)

    def _register_responses(self):
        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_JSON if status >= 400 else
                             self.DEFAULT_RESPONSE_CONTENT_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Default error response", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_JSON)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)


OPENAPI_SETTINGS = {
    "API_TITLE": "Modelyard",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/",
    "OPENAPI_JSON_PATH": "api/v1/openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "docs",
    "OPENAPI_SWAGGER_UI_URL": "/docs/assets/",
}


def register_api(app: Flask) -> Api:
    app.config.update(OPENAPI_SETTINGS)
    app.url_map.converters["anypath"] = files.AnyPathConverter
    install_guards(app, authenticate=install_auth)
    api = ModelyardApi(app, spec_kwargs={"extra_plugins": [SecurityPlugin()]})
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    for blueprint in (models.blp, versions.blp, files.blp, criteria.blp, stages.blp, events.blp,
                      webhooks.blp, tokens.blp, tokens.audit_blp, reports.blp, approvals.blp,
                      deployments.blp):
        api.register_blueprint(blueprint)
    app.register_blueprint(ops.blp)
    return api
