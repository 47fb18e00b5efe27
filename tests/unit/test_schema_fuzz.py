"""Property-based fuzzing of the API against its own OpenAPI schema (schemathesis).

Every operation of /api/schema/ is called with generated data, valid and invalid, as a
superuser: no answer may be a 5xx, and every answer must be one the schema documents, in
the shape it documents. In-process (WSGI), on the test database; bounded by
SCHEMATHESIS_MAX_EXAMPLES per operation (default 25) so that the run stays short.
"""

from __future__ import annotations

import json
import os

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from metier.services import create_piece
from tests.support.accounts import make_account

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "25"))
# Every default check runs (no 5xx, status codes, content types, headers and bodies as
# documented, authentication not ignored, invalid data rejected...) except one heuristic:
# `positive_data_acceptance` expects any schema-valid body to succeed, but a repair naming a
# part that does not exist is rightly a 400. `negative_data_rejection` runs: bodies and
# query parameters are typed strictly (intake/strict.py, api/filters.py), so whatever the
# schema calls invalid is a 4xx.
LENIENCY_CHECKS = [positive_data_acceptance]


@pytest.fixture
def no_broker(settings):
    settings.AMQP_URL = "amqp://guest:guest@127.0.0.1:1/%2F"  # nothing listens there


@pytest.fixture
def auth(db):
    _, token = make_account(admin=True)
    return {"Authorization": f"Token {token}"}


def _load_schema() -> schemathesis.schemas.BaseSchema:
    """The schema /api/schema/ serves, generated in-process (no database needed)."""
    spec = SchemaGenerator().get_schema(request=None, public=True)
    loaded = schemathesis.openapi.from_dict(json.loads(OpenApiJsonRenderer().render(spec)))
    loaded.app = get_wsgi_application()  # calls go to the app in-process, as WSGI
    return loaded


schema = _load_schema()


@pytest.fixture(autouse=True)
def app_on_the_test_database(db, no_broker):
    create_piece(nom="Plaquettes", prix="50.00")  # something to find, update, refer to
    # As Django's test client does: the WSGI handler must not close the test's connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_conforms_to_its_schema(case, auth):
    case.call_and_validate(headers=auth, excluded_checks=LENIENCY_CHECKS)


STATEFUL_EXAMPLES = int(os.environ.get("SCHEMATHESIS_STATEFUL_EXAMPLES", "15"))


def test_api_workflows_conform_to_their_schema(auth):
    """The stateful phase: sequences of calls, each using what an earlier answer returned
    (links inferred from the schema: a part created, then read, changed, received...),
    every answer checked as above."""
    Workflow = schema.as_state_machine()
    called: set[str] = set()

    class AsSuperuser(Workflow):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case):
            called.add(case.operation.label)
            return {"headers": auth}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(
                response,
                additional_checks=additional_checks,
                excluded_checks=LENIENCY_CHECKS,
                headers=auth,
                recorder=getattr(self, "recorder", None),
            )

    AsSuperuser.run(
        settings=settings(
            max_examples=STATEFUL_EXAMPLES,
            stateful_step_count=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
        )
    )
    assert len(called) > 10, called  # sequences over many operations, not one call
