"""The message contract: every message is untrusted."""

import json
import uuid

import pytest

from pipeline import messages


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


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 15000,  # deeper than the interpreter's recursion limit
        b'{"a":' * 5000 + b"1" + b"}" * 5000,
        b'{"piece": 1e400, "duree": 5}',
        b'{"piece": NaN, "duree": 5}',
        b'{"piece": 1' + b"0" * 5000 + b', "duree": 5}',  # past int's digit limit
        b'{"piece": 4611686018427387904, "duree": 5}',  # 2**62: past bigint's safe range
        b'{"piece": null, "duree": null}',
        b'{"piece": [1], "duree": {"h": 5}}',
        b'"\\ud800"',
        b"\x00" * 100,
        b"",
    ],
)
def test_hostile_bodies_are_refused_not_raised(body):
    request = messages.decode(body, None)
    assert request.invalid is not None
    assert request.piece is None or isinstance(request.piece, int)


@pytest.mark.parametrize(
    "message_id", ["x" * 255, "é", "\x00", "00000000-0000-0000-0000-000000000000", ""]
)
def test_any_message_id_gives_a_key_or_none(message_id):
    request = messages.decode(b'{"piece": 1, "duree": 5}', message_id)
    assert request.invalid is None
    assert request.key is None or isinstance(request.key, uuid.UUID)


@pytest.mark.parametrize(
    ("header", "attempt"),
    [(None, 0), (3, 3), (-5, 0), ("2", 0), (2.5, 0), (True, 0), (b"1", 0), ([1], 0)],
)
def test_a_forged_attempt_header_counts_as_zero(header, attempt):
    from messaging.consumer import ATTEMPT_HEADER, Delivery

    headers = {} if header is None else {ATTEMPT_HEADER: header}
    delivery = Delivery(b"{}", None, headers, 1)
    assert delivery.attempt == attempt


def test_car_and_complaint_travel_in_the_message():
    from metier.models import Demande

    d = Demande(piece=3, duree=2, voiture=7, description="bruit")
    request = messages.decode(messages.encode(d), str(uuid.uuid4()))
    assert (request.piece, request.duree, request.voiture, request.description) == (
        3,
        2,
        7,
        "bruit",
    )
    assert messages.decode(b'{"piece": 1, "duree": 1, "voiture": "7"}', None).invalid
    assert messages.decode(b'{"piece": 1, "duree": 1, "description": 5}', None).invalid


def test_a_message_the_database_would_refuse_is_rejected_first():
    body = b'{"piece": 1, "duree": 1, "description": "a\\u0000b"}'
    assert "NUL" in messages.decode(body, None).invalid


@pytest.mark.django_db
def test_one_bad_message_does_not_hold_back_its_batch(monkeypatch, piece):
    """A failure that is not transient is narrowed down to the message that causes it."""
    from messaging.consumer import ACK, Delivery, Retry
    from metier.models import Reparation
    from pipeline import handler as worker

    real = worker.process_demandes

    def picky(*, requests):
        if any(r.duree == 13 for r in requests):
            raise ValueError("unlucky")
        return real(requests=requests)

    monkeypatch.setattr(worker, "process_demandes", picky)
    batch = [
        Delivery(json.dumps({"piece": piece.pk, "duree": d}).encode(), None, {}, i)
        for i, d in enumerate([2, 13, 3])
    ]
    outcomes = worker.handle_batch(batch)
    assert outcomes[0] is ACK and outcomes[2] is ACK
    assert isinstance(outcomes[1], Retry) and "unlucky" in outcomes[1].reason
    assert sorted(Reparation.objects.values_list("duree", flat=True)) == [2, 3]


@pytest.mark.parametrize(
    "body",
    [
        b'{"piece": 1, "duree": 1, "description": "\\ud800"}',
        b'{"piece": 1, "duree": 1, "description": "ok \\udfff then"}',
        b'{"piece": 1, "duree": 1, "description": "a\\u0000b"}',
    ],
)
def test_what_can_never_be_stored_is_refused_at_decoding(body):
    """Issue 15, finding 6: a lone surrogate is permanent, like a NUL: refused at once."""
    assert "surrogate" in messages.decode(body, None).invalid


@pytest.mark.django_db
def test_a_lone_surrogate_is_dead_lettered_at_once(piece):
    from messaging.consumer import DeadLetter, Delivery
    from pipeline import handler as worker

    body = json.dumps({"piece": piece.pk, "duree": 1, "description": "\ud800"}).encode()
    [outcome] = worker.handle_batch([Delivery(body, str(uuid.uuid4()), {}, 1)])
    assert isinstance(outcome, DeadLetter) and "surrogate" in outcome.reason


def _delivery(body: dict, key: object, tag: int = 1):
    from messaging.consumer import Delivery

    return Delivery(json.dumps(body).encode(), str(key), {}, tag)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "forged",
    [
        {"duree": 777},
        {"piece": None},
        {"voiture": 1},
        {"description": "autre chose"},
        {"duree": "3"},
    ],
)
def test_a_forged_message_cannot_rewrite_an_accepted_request(piece, forged):
    """Issue 15, finding 3: the committed request is the truth; a message that contradicts
    it is dead-lettered with the reason, and the genuine message still makes the repair."""
    from messaging.consumer import ACK, DeadLetter
    from metier.models import Demande, Reparation
    from metier.services import accept_demande, create_piece
    from pipeline import handler as worker

    create_piece(nom="autre", prix="1")
    demande, _ = accept_demande(piece=piece.pk, duree=3, description="bruit")
    genuine = json.loads(messages.encode(demande))
    body = {k: v for k, v in {**genuine, **forged}.items() if v is not None}
    # The forgery first, then the genuine message: in one batch, and in two.
    [o1, o2] = worker.handle_batch(
        [_delivery(body, demande.pk, 1), _delivery(genuine, demande.pk, 2)]
    )
    assert isinstance(o1, DeadLetter) and str(demande.pk) in o1.reason and o2 is ACK
    repair = Reparation.objects.get(demande=demande)
    assert (repair.piece_id, repair.duree, repair.description) == (piece.pk, 3, "bruit")
    demande.refresh_from_db()
    assert demande.statut == Demande.Statut.TRAITEE and demande.duree == 3

    other, _ = accept_demande(piece=piece.pk, duree=3, description="bruit")
    [o] = worker.handle_batch([_delivery(body, other.pk)])
    assert isinstance(o, DeadLetter) and ("contradicts" in o.reason or "refused" in o.reason)
    other.refresh_from_db()
    assert other.statut == Demande.Statut.ACCEPTEE and other.motif == ""
    assert not Reparation.objects.filter(demande=other).exists()
    [o] = worker.handle_batch([_delivery(genuine, other.pk)])
    assert o is ACK and Reparation.objects.get(demande=other).duree == 3
