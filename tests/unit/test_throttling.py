"""Per-client limits: 429 with Retry-After, counted in the shared cache (database or Redis)."""

from __future__ import annotations

import os

import pytest
import redis
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

from access.throttling import parse_rate
from tests.support.accounts import make_account, token_client

pytestmark = pytest.mark.django_db(transaction=True)

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(autouse=True)
def no_broker(settings):
    settings.AMQP_URL = "amqp://guest:guest@127.0.0.1:1/%2F"  # nothing listens there


@pytest.fixture
def redis_cache(settings):
    """The Redis cache backend on the machine's Redis (fails, never skips, without it)."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.fail(f"these tests need Redis at {REDIS_URL}: {exc}", pytrace=False)
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": f"garage-test-{os.getpid()}",
        }
    }
    yield cache
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"garage-test-{os.getpid()}:*"):
        client.delete(key)


def _intake_until_refused(client, piece, limit):
    answers = [client.get(f"/reparation/{piece.pk}/1/") for _ in range(limit + 1)]
    return [a.status_code for a in answers], answers[-1]


@pytest.mark.parametrize("backend", ["database", "redis"])
def test_intake_is_limited_per_client(settings, piece, backend, request):
    if backend == "redis":
        request.getfixturevalue("redis_cache")
    settings.GARAGE_THROTTLE_RATES = {**settings.GARAGE_THROTTLE_RATES, "intake": "3/min"}
    client = token_client(make_account("accueil")[1])
    codes, refused = _intake_until_refused(client, piece, 3)
    assert codes == [202, 202, 202, 429]
    assert refused["Content-Type"] == "application/json"
    assert "throttled" in refused.json()["detail"]
    assert 1 <= int(refused["Retry-After"]) <= 60
    # another client has its own count; the rest of the API its own scope
    assert (
        token_client(make_account("accueil")[1]).get(f"/reparation/{piece.pk}/1/").status_code
        == 202
    )
    assert client.get("/api/piece/").status_code == 200


def test_api_is_limited_too(settings):
    settings.GARAGE_THROTTLE_RATES = {**settings.GARAGE_THROTTLE_RATES, "api": "2/s"}
    client = token_client(make_account("magasinier")[1])
    codes = [client.get("/api/piece/").status_code for _ in range(3)]
    assert codes[:2] == [200, 200]
    # the third is refused unless a new second began in between
    assert codes[2] in (200, 429)


def test_off_means_no_limit(settings, piece):
    settings.GARAGE_THROTTLE_RATES = {**settings.GARAGE_THROTTLE_RATES, "intake": "off"}
    client = token_client(make_account("accueil")[1])
    assert {client.get(f"/reparation/{piece.pk}/1/").status_code for _ in range(5)} == {202}


def test_redis_counts_in_one_round_trip(redis_cache, settings, piece, monkeypatch):
    """The hot path: one pipeline (SET NX EX + INCR) per request, nothing else."""
    settings.GARAGE_THROTTLE_RATES = {**settings.GARAGE_THROTTLE_RATES, "intake": "100/min"}
    client = token_client(make_account("accueil")[1])
    client.get(f"/reparation/{piece.pk}/1/")  # warm: token remembered, connection open
    calls = []
    real = redis.client.Pipeline.execute

    def counting(self, *a, **kw):
        calls.append([c[0][0] for c in self.command_stack])
        return real(self, *a, **kw)

    sent = []
    with monkeypatch.context() as patch:
        patch.setattr(redis.client.Pipeline, "execute", counting)
        patch.setattr(redis.Redis, "execute_command", lambda self, *a, **kw: sent.append(a))
        assert client.get(f"/reparation/{piece.pk}/1/").status_code == 202
    assert calls == [["SET", "INCRBY"]] and sent == []


def test_a_dead_cache_lets_requests_through(settings, piece, caplog):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 0.2},
        }
    }
    client = token_client(make_account("accueil")[1])
    assert client.get(f"/reparation/{piece.pk}/1/").status_code == 202
    assert "cache unavailable" in caplog.text


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("6000/min", (6000, 60)), ("5/s", (5, 1)), ("10/hour", (10, 3600)), ("1/day", (1, 86400))],
)
def test_rates(text, parsed):
    assert parse_rate(text) == parsed
    assert parse_rate("off") is None and parse_rate("") is None


@pytest.mark.parametrize("text", ["lots", "5/fortnight", "-1/s", "0/s x"])
def test_bad_rates_are_refused(text):
    with pytest.raises(ImproperlyConfigured):
        parse_rate(text)


def test_a_process_takes_its_share_at_a_time_and_never_exceeds_the_limit(
    redis_cache, settings, piece
):
    """100/min with a 5% share: the shared counter moves 5 at a time, and the 101st request
    is refused exactly, even with a second process (another share table) asking too."""
    from access import throttling

    settings.GARAGE_THROTTLE_SHARE = 0.05
    settings.GARAGE_THROTTLE_RATES = {**settings.GARAGE_THROTTLE_RATES, "intake": "100/min"}
    user, token = make_account("accueil")
    client = token_client(token)
    codes = [client.get(f"/reparation/{piece.pk}/1/").status_code for _ in range(7)]
    assert codes == [202] * 7
    counter = [
        k for k in redis.Redis.from_url(REDIS_URL).scan_iter(f"*throttle:intake:u{user.pk}:*")
    ]
    assert len(counter) == 1
    assert int(redis.Redis.from_url(REDIS_URL).get(counter[0])) == 10  # two shares of 5

    other_process = throttling._Shares()
    codes = []
    for i in range(100):
        if i % 2:  # every other request as if answered by another process
            saved, throttling._shares = throttling._shares, other_process
            try:
                codes.append(client.get(f"/reparation/{piece.pk}/1/").status_code)
            finally:
                other_process, throttling._shares = throttling._shares, saved
        else:
            codes.append(client.get(f"/reparation/{piece.pk}/1/").status_code)
    # 7 + 100 requests against a limit of 100: never more than 100 let in.
    assert codes.count(202) + 7 <= 100 and codes.count(429) >= 7
    assert codes.count(202) + 7 >= 100 - 2 * 5  # at most a share per process left unused
