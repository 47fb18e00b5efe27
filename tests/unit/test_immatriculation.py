"""Plates (issue 15, finding 10): one spelling whatever was typed, and only plates."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps as django_apps
from django.core.exceptions import ValidationError

from metier import services
from metier.immatriculation import normalise_immatriculation, valide_immatriculation
from metier.models import Voiture

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "typed",
    [
        "AB998ZZ",
        "ab-998-zz",
        "AB 998 ZZ",
        "ab.998.zz",
        "ＡＢ-９９８-ＺＺ",  # full-width
        "АВ998ZZ",  # Cyrillic А, В
        "аb-998-zz",  # Cyrillic а
        "ΑΒ998ΖΖ",  # Greek Alpha, Beta, Zeta
        "\u00a0AB\u2009998\u3000ZZ ",  # no-break, thin and ideographic spaces
    ],
)
def test_every_spelling_is_one_plate(typed):
    assert valide_immatriculation(typed) == "AB998ZZ"


@pytest.mark.parametrize(
    "typed", ["🚗🚗", "ÉT-123-AA", "AB_998", "AB/998", "ŁÓDŹ1", "--", "A" * 16]
)
def test_what_is_not_a_plate_is_refused(typed):
    with pytest.raises(ValidationError) as exc:
        valide_immatriculation(typed)
    assert "immatriculation" in exc.value.message_dict


def test_blank_is_no_plate():
    assert valide_immatriculation("  ") is None and valide_immatriculation(None) is None


def test_the_probes_three_cars_are_one(admin_api):
    first = admin_api.post(
        "/api/voiture/",
        {"marque": "R", "couleur": "c", "immatriculation": "ＡＢ-９９８-ＺＺ"},
        format="json",
    )
    assert first.status_code == 201 and first.json()["immatriculation"] == "AB998ZZ"
    for typed in ("ab-998-zz", "АВ998ZZ"):
        r = admin_api.post(
            "/api/voiture/",
            {"marque": "R", "couleur": "c", "immatriculation": typed},
            format="json",
        )
        assert r.status_code == 400 and "immatriculation" in r.json(), r.content
    assert Voiture.objects.count() == 1
    for typed in ("AB998ZZ", "АВ-998-ZZ", "ab 998 zz"):
        found = admin_api.get("/api/voiture/", {"immatriculation": typed}).json()["results"]
        assert [v["id"] for v in found] == [first.json()["id"]]


def test_an_emoji_plate_is_a_400_not_an_empty_plate(admin_api):
    r = admin_api.post(
        "/api/voiture/", {"marque": "R", "couleur": "c", "immatriculation": "🚗"}, format="json"
    )
    assert r.status_code == 400 and list(r.json()) == ["immatriculation"]
    car = services.create_voiture(marque="R", couleur="c", immatriculation="AB123CD")
    r = admin_api.patch(f"/api/voiture/{car.pk}/", {"immatriculation": "🚗"}, format="json")
    assert r.status_code == 400 and list(r.json()) == ["immatriculation"]
    car.refresh_from_db()
    assert car.immatriculation == "AB123CD"


def test_the_migration_normalises_stored_plates(capsys):
    written = {
        "ab-123-cd": "AB123CD",
        "ＥＦ４５６ＧＨ": "EF456GH",
        "АВ998ZZ": "AB998ZZ",
        "AB998ZZ ": "AB998ZZ ",  # canonical is taken by the one above: left, reported
        "🚗": "🚗",  # not a plate: left, reported
        "ZZ111ZZ": "ZZ111ZZ",
    }
    ids = {}
    for plate in written:
        ids[plate] = Voiture.objects.create(marque="m", couleur="c", immatriculation=plate).pk
    migration = importlib.import_module("metier.migrations.0015_i15_immatriculations_normalisees")
    migration.normalise(django_apps, None)
    for plate, expected in written.items():
        assert Voiture.objects.get(pk=ids[plate]).immatriculation == expected, plate
    out = capsys.readouterr().out
    assert "'AB998ZZ '" in out and "'🚗'" in out


def test_normalise_is_idempotent():
    for typed in ("ab-998-zz", "ＡＢ９９８", "АВ"):
        once = normalise_immatriculation(typed)
        assert normalise_immatriculation(once) == once
