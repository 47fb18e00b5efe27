"""Issue 15, finding 7: a body whose values are not of the JSON type the schema documents
is a 400 naming the field, never coerced (`"prix": "1"`, `"duree": "3"`, `"nom": 0`)."""

from __future__ import annotations

import inspect

import pytest
from rest_framework import fields, relations, serializers

from api import serializers as api_serializers
from intake import serializers as intake_serializers
from intake.strict import StrictTypes, type_error

pytestmark = pytest.mark.django_db

WRONG = ["1", 1, 1.5, True, [1], {"a": 1}]


def _readers():
    for module in (api_serializers, intake_serializers):
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if not issubclass(cls, serializers.BaseSerializer) or cls.__module__ != module.__name__:
                continue
            if issubclass(cls, serializers.ModelSerializer) and not hasattr(cls, "Meta"):
                continue  # an abstract base (its subclasses are checked)
            yield cls


def test_every_serializer_that_reads_a_body_is_strict():
    lax = [
        cls.__name__
        for cls in _readers()
        if not issubclass(cls, StrictTypes) and any(not f.read_only for f in cls().fields.values())
    ]
    assert lax == [], f"serializers that would coerce: {lax}"


@pytest.mark.parametrize("cls", list(_readers()), ids=lambda c: c.__name__)
def test_each_writable_field_refuses_every_other_json_type(cls):
    checked = 0
    for name, field in cls().fields.items():
        if field.read_only or isinstance(field, fields.JSONField):
            continue
        for value in WRONG:
            if type_error(field, value) is None:
                continue  # a value of the field's own type
            checked += 1
            s = cls(data={name: value})
            assert not s.is_valid()
            assert name in s.errors, (cls.__name__, name, value, s.errors)
    writable = [f for f in cls().fields.values() if not f.read_only]
    assert checked or not writable


def test_types_per_kind_of_field():
    assert type_error(fields.IntegerField(), "3") and type_error(fields.IntegerField(), 3.0)
    assert type_error(fields.IntegerField(), True) and not type_error(fields.IntegerField(), 3)
    assert type_error(fields.DecimalField(10, 2), "1") and not type_error(
        fields.DecimalField(10, 2), 1.5
    )
    assert type_error(fields.CharField(), 0) and not type_error(fields.CharField(), "0")
    assert type_error(fields.BooleanField(), "true") and not type_error(
        fields.BooleanField(), False
    )
    assert not type_error(fields.IntegerField(), None)  # null is the field's call
    pk = relations.PrimaryKeyRelatedField(read_only=True)
    assert type_error(pk, "1") and not type_error(pk, 1)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/piece/", {"nom": "Filtre", "prix": "1"}, "prix"),
        ("/api/piece/", {"nom": 0, "prix": 1}, "nom"),
        ("/api/piece/", {"nom": "Filtre", "prix": 1, "stock": "5"}, "stock"),
        ("/api/piece/", {"nom": "Filtre", "prix": 1, "stock": 5.0}, "stock"),
        ("/api/reparation/", {"piece": "{piece}", "duree": 3}, "piece"),
        ("/api/reparation/", {"piece": "PIECE", "duree": "3"}, "duree"),
        ("/reparation/", {"piece": "PIECE", "duree": "3"}, "duree"),
        ("/reparation/", {"piece": "PIECE", "duree": True}, "duree"),
        ("/api/voiture/", {"marque": "R", "couleur": "c", "annee": "2001"}, "annee"),
    ],
)
def test_the_probes_cases(admin_api, piece, settings, path, body, field):
    settings.AMQP_URL = "amqp://guest:guest@127.0.0.1:1/%2F"
    body = {k: piece.pk if v == "PIECE" else v for k, v in body.items()}
    body = {k: str(piece.pk) if v == "{piece}" else v for k, v in body.items()}
    r = admin_api.post(path, body, format="json")
    assert r.status_code == 400 and field in r.json(), r.content
