"""The message contract on the `garage` queue, both ways.

Body: JSON `{"piece": <id>, "duree": <hours>}` (the seed's; extra keys are ignored).
Properties: `message_id` = the request id (the idempotency key), JSON content type,
persistent. A message with no properties at all (the seed's producer) is still processed.
Extras, for the logs and the metrics only: `correlation_id` = the HTTP request's
X-Request-ID, and the header `x-garage-accepted-at` = when the request was accepted (Unix
milliseconds), from which the worker measures the way from request to repair.
Every message is untrusted: size, JSON, types and ranges are checked here.
"""

from __future__ import annotations

import json
import uuid

from django.conf import settings

from metier import limits
from metier.models import Demande
from metier.services.demandes import DUREE_BOUNDS, texte_stockable

from .demandes import RepairRequest

ACCEPTED_AT = "x-garage-accepted-at"

# Keys that are not UUIDs (another program's ids) map to stable UUIDs in this namespace.
FOREIGN_ID_NAMESPACE = uuid.UUID("6f1c7a52-3d0e-4b8e-9a57-0c2b8f5e7d41")


def encode(demande: Demande) -> bytes:
    body: dict[str, object] = {"piece": demande.piece, "duree": demande.duree}
    # Optional keys only when set: the seed's exact message stays the common case.
    if demande.voiture is not None:
        body["voiture"] = demande.voiture
    if demande.description:
        body["description"] = demande.description
    return json.dumps(body).encode()


def key_for(message_id: str | None) -> uuid.UUID | None:
    if not message_id:
        return None
    try:
        return uuid.UUID(str(message_id))
    except ValueError:
        return uuid.uuid5(FOREIGN_ID_NAMESPACE, str(message_id)[:255])


def _is_int(value: object) -> bool:
    """A JSON integer (true and false are ints in Python, not here)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _id(value: object) -> bool:
    return _is_int(value) and limits.ID_MIN <= value <= limits.ID_MAX


def storable(text: str) -> bool:
    """Text every database here can store: valid UTF-8 (no lone surrogate), no NUL."""
    return texte_stockable(text)


def decode(body: bytes, message_id: str | None) -> RepairRequest:
    """A RepairRequest; `invalid` says why when the message can never succeed."""
    key = key_for(message_id)

    def invalid(reason: str, piece: object = None, duree: object = None) -> RepairRequest:
        return RepairRequest(
            key=key,
            piece=piece if _is_int(piece) and abs(piece) <= limits.ID_MAX else None,
            duree=duree if _is_int(duree) and abs(duree) <= limits.ID_MAX else None,
            invalid=reason,
        )

    if len(body) > settings.GARAGE_MAX_MESSAGE_BYTES:
        return invalid(f"message too large: {len(body)} bytes")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        # RecursionError: nested deeper than the interpreter allows, e.g. `[[[[...`.
        return invalid("not JSON")
    if not isinstance(data, dict):
        return invalid("not a JSON object")
    piece, duree = data.get("piece"), data.get("duree")
    if "piece" not in data:
        return invalid("piece is missing", duree=duree)
    if "duree" not in data:
        return invalid("duree is missing", piece=piece)
    if not _id(piece):
        return invalid("piece must be a positive whole number", duree=duree)
    if not _is_int(duree):
        return invalid("duree must be a whole number of hours", piece=piece)
    if not limits.DUREE_MIN <= duree <= limits.DUREE_MAX:
        return invalid(f"duree {DUREE_BOUNDS}", piece, duree)
    voiture, description = data.get("voiture"), data.get("description", "")
    if voiture is not None and not _id(voiture):
        return invalid("voiture must be a positive whole number", piece, duree)
    if not isinstance(description, str) or not storable(description):
        # Neither a NUL nor a lone surrogate (`"\ud800"`) can ever be stored: retrying a
        # message holding one would only fail again, so it is refused here, at once.
        return invalid(
            "description must be text (without NUL characters or lone surrogates)", piece, duree
        )
    return RepairRequest(
        key=key, piece=piece, duree=duree, voiture=voiture, description=description
    )


def accepted_at(headers: dict) -> float | None:
    """When the request was accepted (Unix seconds), if the message says so."""
    value = headers.get(ACCEPTED_AT)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return None
    return value / 1000
