"""OpenAPI generation: drf-spectacular's, plus the error answers every operation can give.

Errors are DRF's JSON shape: `{"detail": "..."}` or `{"<field>": ["<reason>", ...]}`.
Documenting them lets clients (and the schemathesis run in the test suite) rely on them.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular import openapi
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework.permissions import AllowAny

# The token scheme's extension: imported here, where schemas are made, not at start-up
# (drf-spectacular's imports cost every process, the worker too, about a second).
from access import schema as _token_scheme  # noqa: F401

ERROR_SCHEMA = {
    "type": "object",
    "description": 'DRF\'s error shape: {"detail": "..."} or {"<field>": ["<reason>", ...]}.',
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": {
        "oneOf": [
            {"type": "string"},
            {"type": "array", "items": {}},
            {"type": "object"},
        ]
    },
}
ERRORS = {
    "400": "Bad input: the body, a parameter or a header names the field and the reason.",
    "401": "Not authenticated: send `Authorization: Token <token>` (or log in).",
    "403": "Authenticated, without the permission this needs.",
    "404": "No such resource.",
    "405": "Method not allowed here.",
    "409": "Conflicts with the current state (e.g. deleting a part still in use).",
    "413": "Request body too large.",
    "415": "Unsupported media type: send JSON.",
    "429": "Too many requests from this client: retry after `Retry-After` seconds.",
    "503": "The database is busy (deadlock victim, lock timeout) or away: nothing was done; retry.",
}


# The docs' headings: one per resource (their order and descriptions: SPECTACULAR_SETTINGS
# "TAGS"). Keyed by the first segment after /api/; `intake` is the seed's /reparation/...
TAGS = {
    "intake": "Demandes de réparation",
    "demande": "Demandes de réparation",
    "reparation": "Réparations",
    "ligne-piece": "Lignes des réparations",
    "ligne-main-oeuvre": "Lignes des réparations",
    "piece": "Pièces",
    "voiture": "Voitures",
    "client": "Clients",
    "devis": "Devis",
    "facture": "Factures",
    "avoir": "Avoirs",
    "paiement": "Paiements",
    "remboursement": "Remboursements",
    "auth": "Comptes",
    "health": "Santé",
}


def resource_tag(path: str) -> str:
    """`/api/piece/{id}/reception/` → Pièces; `/reparation/{piece}/{duree}/` → the intake's."""
    parts = [p for p in path.strip("/").split("/") if p]
    if not parts:
        return "garage"
    key = parts[1] if parts[0] == "api" and len(parts) > 1 else parts[0]
    if parts[0] == "reparation":  # outside /api/: the seed's intake
        key = "intake"
    return TAGS.get(key, key.capitalize())


class AutoSchema(openapi.AutoSchema):
    def get_tags(self) -> list[str]:
        return [resource_tag(self.path)]

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        public = any(p is AllowAny for p in getattr(self.view, "permission_classes", []))
        if public:
            return responses
        component = ResolvedComponent(
            name="Error", type=ResolvedComponent.SCHEMA, object="Error", schema=ERROR_SCHEMA
        )
        self.registry.register_on_missing(component)
        for code, description in ERRORS.items():
            responses.setdefault(
                code,
                {
                    "description": description,
                    "content": {"application/json": {"schema": component.ref}},
                },
            )
        return responses
