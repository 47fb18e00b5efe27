from __future__ import annotations

import pytest

from tests.support.broker import Vhost, require_rabbitmq


@pytest.fixture
def vhost(settings):
    """A private vhost on the shared RabbitMQ, and the settings pointing at it."""
    require_rabbitmq()
    v = Vhost()
    settings.AMQP_URL = v.url
    yield v
    v.delete()


@pytest.fixture
def admin_api(db):
    """An API client authenticated with a superuser's token."""
    from tests.support.accounts import make_account, token_client

    _, token = make_account(admin=True)
    return token_client(token)


@pytest.fixture
def piece(db):
    from metier.services import create_piece

    return create_piece(nom="Plaquettes de frein", prix="50.00")


@pytest.fixture
def stack(vhost, transactional_db, tmp_path):
    """The real processes against the test database and a private vhost."""
    from tests.support.stack import Stack

    s = Stack(vhost.url, tmp_path)
    yield s
    s.close()


def pytest_generate_tests(metafunc):
    """The permission cases of tests/support/api_cases.py, from each class's declarations."""
    cls = metafunc.cls
    if cls is None:
        return
    if "operation" in metafunc.fixturenames:
        metafunc.parametrize("operation", getattr(cls, "operations", ()))
    if "custom_action" in metafunc.fixturenames:
        metafunc.parametrize("custom_action", list(getattr(cls, "custom_actions", {})))
    if "role" in metafunc.fixturenames and hasattr(cls, "role_access"):
        from tests.support.api_cases import EVERYONE

        metafunc.parametrize("role", EVERYONE)


@pytest.fixture(autouse=True)
def fresh_throttle_shares():
    """A process keeps its throttle shares in memory; ids are reused between tests."""
    from access.throttling import _shares

    _shares.left.clear()
    yield
    _shares.left.clear()


@pytest.fixture(scope="session", autouse=True)
def stop_background_threads(django_db_setup, django_db_blocker):
    """The web process's writer and publisher threads hold database connections: they stop
    before the test database is dropped."""
    yield
    from intake import writer
    from pipeline import outbox

    writer.stop()
    outbox.stop()
