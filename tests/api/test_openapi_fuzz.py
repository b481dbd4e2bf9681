"""schemathesis over our OpenAPI document: no 5xx, every answer matches the documented schema."""
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance,
                                               response_schema_conformance,
                                               status_code_conformance)
from hypothesis import HealthCheck, given, settings

from registry.app import create_app

EXAMPLES_PER_OPERATION = 30
# Semantic rules (filter grammar, opaque cursors, parent versions) are not expressible in the
# schema, so "schema-valid data is accepted" is not a check we can promise.
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance,
          status_code_conformance]


def test_api_conforms(backend):
    app = create_app({**backend, "api": {"events_max_wait_s": 0}}, environ={})
    client = app.test_client()
    client.post("/api/v1/models", json={"name": "fraud"})
    client.post("/api/v1/models/fraud/versions", json={"run": {"metrics": {"accuracy": 0.9}}})
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def conforms(case):
            case.call_and_validate(checks=CHECKS)

        conforms()
