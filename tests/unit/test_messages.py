"""The message contract: every message is untrusted."""

import json
import uuid

import pytest

from intake import messages


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"duree": 5}', "piece is missing"),
        (b'{"piece": 1}', "duree is missing"),
        (b'{"piece": "1", "duree": 5}', "piece must be"),
        (b'{"piece": true, "duree": 5}', "piece must be"),
        (b'{"piece": 0, "duree": 5}', "piece must be"),
        (b'{"piece": 1, "duree": 5.5}', "duree must be a whole"),
        (b'{"piece": 1, "duree": -5}', "duree must be between"),
        (b'{"piece": 1, "duree": 100000}', "duree must be between"),
        (b'{"piece": 1, "duree": 5, "x": "' + b"a" * 20000 + b'"}', "too large"),
    ],
)
def test_invalid_messages_say_why(body, reason):
    request = messages.decode(body, None)
    assert request.invalid is not None and reason in request.invalid


def test_seed_format_without_properties():
    request = messages.decode(b'{"piece": 1, "duree": 5}', None)
    assert request.invalid is None and request.key is None
    assert (request.piece, request.duree) == (1, 5)


def test_extra_keys_are_ignored_and_ids_become_keys():
    rid = uuid.uuid4()
    request = messages.decode(json.dumps({"piece": 2, "duree": 3, "note": "x"}).encode(), str(rid))
    assert request.invalid is None and request.key == rid
    # another program's ids: a stable key too
    assert (
        messages.key_for("order-17") == messages.key_for("order-17") != messages.key_for("order-18")
    )
