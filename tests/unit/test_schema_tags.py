"""/api/docs/ groups operations by resource (issue 13, item 6), not under one "api"."""

import pytest

pytestmark = pytest.mark.django_db


def test_operations_are_grouped_by_resource(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    tags = {}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            tags[f"{method.upper()} {path}"] = operation["tags"]
    assert tags["GET /api/piece/{id}/"] == ["Pièces"]
    assert tags["POST /api/piece/{id}/reception/"] == ["Pièces"]
    assert tags["POST /api/reparation/{id}/demarrer/"] == ["Réparations"]
    assert tags["POST /reparation/"] == tags["GET /api/demande/"] == ["Demandes de réparation"]
    assert tags["GET /api/ligne-main-oeuvre/"] == ["Lignes des réparations"]
    assert not any(t == ["api"] for t in tags.values())
    declared = [t["name"] for t in schema["tags"]]
    assert {t for ts in tags.values() for t in ts} <= set(declared)
