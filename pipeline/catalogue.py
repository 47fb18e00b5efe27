"""The event catalogue: a JSON Schema per event and the AsyncAPI 3 document (docs/events/).

The source of truth is this module; `python manage.py catalogue_evenements` writes the files
and `--check` fails when they differ from what it would write (CI). The tests validate the
events a repair's life actually emits against these schemas (tests/integration and unit).

The schemas are strict (`additionalProperties: false`) so that the catalogue says
everything the system sends; a consumer should still ignore fields it does not know.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings

from metier.evenements import TYPES
from metier.models import Devis, Paiement, Reparation

from .events import CONTENT_TYPE, TYPE_PREFIX

DRAFT = "https://json-schema.org/draft/2020-12/schema"
ROOT = Path(settings.BASE_DIR) / "docs" / "events"

ID = {"type": "integer", "minimum": 1}
ID_OR_NULL = {"type": ["integer", "null"], "minimum": 1}
MONEY = {"type": "string", "pattern": r"^-?\d+\.\d{2}$", "description": "euros, exact"}
DATE = {"type": "string", "format": "date"}
DATETIME = {"type": "string", "format": "date-time"}
TEXT = {"type": "string"}

STATUTS = [s.value for s in Reparation.Statut]


def _obj(properties: dict[str, Any], optional: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": [k for k in properties if k not in optional],
        "properties": properties,
    }


def _reparation(vers: str) -> dict[str, Any]:
    return _obj(
        {
            "reparation": ID,
            "de": {"enum": [*STATUTS, None], "description": "the previous status (null: new)"},
            "vers": {"const": vers},
            "motif": TEXT,
            "voiture": ID_OR_NULL,
            "client": ID_OR_NULL,
            "total_ttc": MONEY,
        }
    )


def _devis(statut: str, jeton: bool = False) -> dict[str, Any]:
    props = {
        "devis": ID,
        "numero": TEXT,
        "reparation": ID,
        "client": ID_OR_NULL,
        "complementaire": {"type": "boolean"},
        "statut": {"const": statut},
        "total_ttc": MONEY,
        "valide_jusqu_au": DATE,
    }
    if jeton:
        props["jeton_chiffre"] = {
            "type": "string",
            "description": "the approval link's signed value, encrypted with a key derived "
            "from the garage's secret key (Fernet): only the notifier reads it, to send the "
            "customer their page /devis/<jeton>/; other subscribers cannot",
        }
    return _obj(props)


SUMMARIES = {
    "reparation.demandee": "A repair order was made (through the API, waiting to be planned).",
    "reparation.en_attente_pieces": "A repair order waits for parts.",
    "reparation.planifiee": "A repair order is planned: its parts are reserved.",
    "reparation.en_cours": "The work started.",
    "reparation.terminee": "The work is finished: the car is ready.",
    "reparation.facturee": "The repair order was invoiced.",
    "reparation.annulee": "The repair order was cancelled.",
    "devis.envoye": "An estimate was sent: it awaits the customer's approval.",
    "devis.accepte": "The customer accepted every line of an estimate.",
    "devis.partiellement_accepte": "The customer accepted some lines of an estimate.",
    "devis.refuse": "The customer declined every line of an estimate.",
    "facture.emise": "An invoice was issued.",
    "paiement.enregistre": "A payment (or a deposit) was recorded.",
    "piece.sous_seuil": "A part's available quantity fell to or below its reorder threshold.",
    "piece.recue": "Parts were delivered; the repairs waiting for them were planned.",
    "rappel.du": "A car's maintenance reminder fell due (by date or mileage).",
}


def data_schemas() -> dict[str, dict[str, Any]]:
    schemas: dict[str, dict[str, Any]] = {}
    for statut in STATUTS:
        schemas[f"reparation.{statut}"] = _reparation(statut)
    schemas["devis.envoye"] = _devis(Devis.Statut.ENVOYE, jeton=True)
    for statut in ("accepte", "partiellement_accepte", "refuse"):
        schemas[f"devis.{statut}"] = _devis(statut)
    schemas["facture.emise"] = _obj(
        {
            "facture": ID,
            "numero": TEXT,
            "reparation": ID,
            "client": ID_OR_NULL,
            "date": DATE,
            "echeance": DATE,
            "total_ht": MONEY,
            "total_ttc": MONEY,
        }
    )
    schemas["paiement.enregistre"] = _obj(
        {
            "paiement": ID,
            "facture": ID_OR_NULL,
            "reparation": ID,
            "devis": {**ID_OR_NULL, "description": "a deposit on an approved estimate"},
            "montant": MONEY,
            "mode": {"enum": [m.value for m in Paiement.Mode]},
            "acompte": {"type": "boolean"},
            "recu_le": DATETIME,
        }
    )
    schemas["piece.sous_seuil"] = _obj(
        {
            "piece": ID,
            "nom": TEXT,
            "disponible": {"type": "integer"},
            "seuil": {"type": "integer", "minimum": 0},
        }
    )
    schemas["piece.recue"] = _obj(
        {
            "piece": ID,
            "nom": TEXT,
            "quantite": {"type": "integer", "minimum": 1},
            "stock": {"type": "integer", "minimum": 0},
            "reparations_planifiees": {"type": "array", "items": ID},
        }
    )
    schemas["rappel.du"] = _obj(
        {
            "rappel": ID,
            "voiture": ID,
            "client": ID_OR_NULL,
            "nature": TEXT,
            "raison": {"enum": ["date", "kilometrage"]},
            "echeance": {"type": ["string", "null"], "format": "date"},
            "echeance_km": {"type": ["integer", "null"]},
            "kilometrage": {"type": "integer", "minimum": 0},
        }
    )
    assert set(schemas) == set(TYPES), set(TYPES) ^ set(schemas)
    return schemas


def event_schema(type_: str, data: dict[str, Any]) -> dict[str, Any]:
    """The whole CloudEvent (envelope and data) of one event type."""
    subject_kind = type_.split(".")[0]
    return {
        "$schema": DRAFT,
        "$id": f"https://garage.example/events/schemas/{type_}.json",
        "title": f"{TYPE_PREFIX}{type_}",
        "description": SUMMARIES[type_],
        "type": "object",
        "required": [
            "specversion",
            "id",
            "source",
            "type",
            "time",
            "subject",
            "datacontenttype",
            "sequence",
            "data",
        ],
        "additionalProperties": False,
        "properties": {
            "specversion": {"const": "1.0"},
            "id": {"type": "string", "format": "uuid", "description": "deduplicate on it"},
            "source": {"type": "string", "minLength": 1},
            "type": {"const": f"{TYPE_PREFIX}{type_}"},
            "time": {"type": "string", "format": "date-time", "pattern": "Z$"},
            "subject": {"type": "string", "pattern": rf"^{subject_kind}/[0-9]+$"},
            "datacontenttype": {"const": "application/json"},
            "sequence": {
                "type": "integer",
                "minimum": 1,
                "description": "CloudEvents extension: per subject, increasing from 1; "
                "order a subject's events by it",
            },
            "data": data,
        },
    }


def _op_id(type_: str) -> str:
    return "recevoir_" + type_.replace(".", "_")


def asyncapi(schemas: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The AsyncAPI 3.0 document: one channel per routing key on the exchange, its message
    (CloudEvents structured JSON), and a receive operation a subscriber performs."""
    channels, operations, messages = {}, {}, {}
    for type_ in sorted(schemas):
        key = type_.replace(".", "_")
        messages[key] = {
            "name": f"{TYPE_PREFIX}{type_}",
            "title": type_,
            "summary": SUMMARIES[type_],
            "contentType": CONTENT_TYPE,
            "payload": {"$ref": f"schemas/{type_}.json"},
            "bindings": {
                "amqp": {
                    "contentEncoding": "utf-8",
                    "messageType": type_,
                    "bindingVersion": "0.3.0",
                }
            },
        }
        channels[key] = {
            "address": type_,
            "description": f"Routing key `{type_}` on the topic exchange `garage.events`.",
            "messages": {key: {"$ref": f"#/components/messages/{key}"}},
            "bindings": {
                "amqp": {
                    "is": "routingKey",
                    "exchange": {
                        "name": "garage.events",
                        "type": "topic",
                        "durable": True,
                        "autoDelete": False,
                        "vhost": "/",
                    },
                    "bindingVersion": "0.3.0",
                }
            },
        }
        operations[_op_id(type_)] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{key}"},
            "messages": [{"$ref": f"#/channels/{key}/messages/{key}"}],
            "bindings": {"amqp": {"ack": True, "bindingVersion": "0.3.0"}},
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "garage events",
            "version": "1.0.0",
            "description": (
                "What happens in the garage, as CloudEvents 1.0 (structured JSON, content "
                "type application/cloudevents+json) on the durable topic exchange "
                "`garage.events`. Routing key `<subject>.<event>`; persistent messages, "
                "published with confirms, delivered at least once: deduplicate on `id`, "
                "order each `subject`'s events by `sequence`. Bind your own durable queue "
                "(e.g. `reparation.*`, or `#` for everything)."
            ),
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "rabbitmq": {
                "host": "localhost:5672",
                "protocol": "amqp",
                "protocolVersion": "0-9-1",
                "description": "AMQP_URL of the deployment",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def render() -> dict[Path, str]:
    """Every file of the catalogue and its text."""
    data = data_schemas()
    schemas = {t: event_schema(t, d) for t, d in data.items()}
    files = {
        ROOT / "schemas" / f"{t}.json": json.dumps(s, indent=2, ensure_ascii=False) + "\n"
        for t, s in sorted(schemas.items())
    }
    files[ROOT / "asyncapi.json"] = (
        json.dumps(asyncapi(schemas), indent=2, ensure_ascii=False) + "\n"
    )
    return files


def load_schema(type_: str) -> dict[str, Any]:
    return json.loads((ROOT / "schemas" / f"{type_}.json").read_text())


def load_asyncapi() -> dict[str, Any]:
    return json.loads((ROOT / "asyncapi.json").read_text())


def schema_from_asyncapi(doc: dict[str, Any], routing_key: str) -> dict[str, Any]:
    """Follows the AsyncAPI document from the channel of `routing_key` to its message's
    payload schema (KeyError: the document does not know this event)."""
    [channel] = [c for c in doc["channels"].values() if c["address"] == routing_key]
    [ref] = [m["$ref"] for m in channel["messages"].values()]
    message = doc["components"]["messages"][ref.rsplit("/", 1)[-1]]
    return json.loads((ROOT / message["payload"]["$ref"]).read_text())
