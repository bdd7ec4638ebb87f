"""Schemathesis: requests generated from the OpenAPI document find no server error and no off-schema answer."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from screening.schemas import openapi_document
from tests import factories
from tests.screening.builders import make_person

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_api_survives_generated_requests(app, db_session, mode):
    make_person()
    _, token = factories.make_api_client(post_code=None)  # unbound: may name any post
    db_session.commit()
    schema = schemathesis.openapi.from_dict(openapi_document())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} >= {"POST /crossings", "GET /flags"}
    for op in operations:
        @settings(max_examples=25, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=op.as_strategy(generation_mode=mode))
        def run(case):
            case.call_and_validate(app=app, base_url="http://localhost/api/v1",
                                   headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)

        run()
