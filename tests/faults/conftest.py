"""Fault injection: real RabbitMQ (a private node when a test breaks the broker), real
PostgreSQL, the system's real processes. Each test prints its counts and asserts that
nothing accepted is lost and nothing is done twice."""

from __future__ import annotations

import pytest

from tests.support.broker import Vhost
from tests.support.rabbit_node import PrivateRabbitNode
from tests.support.stack import Stack, is_postgres


@pytest.fixture(autouse=True)
def _postgres_only(transactional_db):
    if not is_postgres():
        pytest.fail(
            "the fault suite runs against PostgreSQL: set DATABASE_URL=postgres://... "
            "(`make test` does)",
            pytrace=False,
        )


@pytest.fixture
def rabbit():
    """A private RabbitMQ node: the test may stop, restart or alarm it."""
    node = PrivateRabbitNode().start()
    yield node
    node.stop()


@pytest.fixture
def private_stack(rabbit, transactional_db, tmp_path):
    vhost = Vhost(port=rabbit.port, ctl=rabbit.ctl)
    s = Stack(vhost.url, tmp_path)
    s.vhost = vhost
    yield s
    s.close()
