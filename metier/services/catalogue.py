"""Parts, clients and cars: the records a repair order refers to."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from ..immatriculation import valide_immatriculation
from ..models import Client, Piece, Voiture
from .common import delete, save, update


# --- Pieces ---------------------------------------------------------------------------
@transaction.atomic
def create_piece(
    *,
    nom: str,
    prix: Decimal,
    stock: int = 0,
    seuil: int = 0,
    prix_reemploi: Decimal | None = None,
) -> Piece:
    return save(Piece(nom=nom, prix=prix, stock=stock, seuil=seuil, prix_reemploi=prix_reemploi))


@transaction.atomic
def update_piece(*, piece: Piece, **fields: Any) -> Piece:
    # Stock moves only through receptions and repairs, never by editing the part.
    fields.pop("stock", None)
    fields.pop("reserve", None)
    return update(piece, fields)


@transaction.atomic
def delete_piece(*, piece: Piece) -> None:
    delete(piece)


# --- Clients --------------------------------------------------------------------------
@transaction.atomic
def create_client(*, nom: str, telephone: str = "", email: str = "") -> Client:
    return save(Client(nom=nom.strip(), telephone=telephone.strip(), email=email.strip().lower()))


@transaction.atomic
def update_client(*, client: Client, **fields: Any) -> Client:
    if "email" in fields:
        fields["email"] = fields["email"].strip().lower()
    return update(client, fields)


@transaction.atomic
def delete_client(*, client: Client) -> None:
    delete(client)


# --- Voitures -------------------------------------------------------------------------
def _normalised(fields: dict[str, Any]) -> dict[str, Any]:
    if "immatriculation" in fields:
        fields["immatriculation"] = valide_immatriculation(fields["immatriculation"])
    if fields.get("vin") is not None:
        fields["vin"] = fields["vin"].strip().upper() or None
    return fields


@transaction.atomic
def create_voiture(*, marque: str, couleur: str, **fields: Any) -> Voiture:
    return save(Voiture(marque=marque, couleur=couleur, **_normalised(fields)))


@transaction.atomic
def update_voiture(*, voiture: Voiture, **fields: Any) -> Voiture:
    # Lock the row: two updates of the mileage must not both read the old value.
    current = Voiture.objects.select_for_update().get(pk=voiture.pk)
    new_km = fields.get("kilometrage")
    if new_km is not None and new_km < current.kilometrage:
        raise ValidationError(
            {"kilometrage": [f"mileage never decreases: it is {current.kilometrage} km"]}
        )
    return update(voiture, _normalised(fields))


@transaction.atomic
def delete_voiture(*, voiture: Voiture) -> None:
    delete(voiture)
