"""Schemathesis against the OpenAPI description, over real HTTP with a real token: whatever
it sends, no answer is a server error and every answer matches the description (status,
content type, body, headers)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from syncwright.api.app import create_api
from syncwright.domain.access import Role

schema = schemathesis.openapi.from_dict(create_api(None).openapi())  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def backend():
    """SQLite only: the schema does not depend on the store, the route tests cover both."""
    return "sqlite"


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_keeps_its_description(case, world):
    if "workspace_id" in (case.path_parameters or {}):
        case.path_parameters["workspace_id"] = world.alpha.id
    headers = {"Authorization": f"Bearer {world.alpha.tokens[Role.ADMIN]}"}
    generated = case.meta.components.get(ParameterLocation.HEADER) if case.meta else None
    if generated is not None and generated.mode is GenerationMode.NEGATIVE:
        # A case meant to lack the token (or to carry a bad one) goes as generated: adding
        # ours would make a request the API rightly accepts a "negative" one.
        headers = {}
    case.call_and_validate(
        base_url=world.served.url,
        headers=headers,
        # A request can be well formed and still name what does not exist here (a model, a
        # connector type, a window past the retention, a cursor of another list): that is a
        # 422 naming the field, which no description can foresee. Every other check runs.
        excluded_checks=[positive_data_acceptance],
    )
