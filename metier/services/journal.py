"""The journal: every invoice, credit note and payment, as recorded, in one append-only chain.

Each entry holds the canonical JSON of its record (sorted keys, no spaces, decimals as
strings, times in UTC) and `hash = SHA-256(previous entry's hash + that JSON)`. Positions
are gapless (the `journal` counter row is locked while an entry is appended, which also
orders the chain). `verifier_journal` recomputes everything: a changed record, a changed or
removed entry, or a record that never went through the journal is named.

The chain proves nothing against someone who rewrites a record, its entry and every hash
after it; publish or archive the head hash (`manage.py verifier_journal` prints it) to
anchor it outside the database.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from ..models import Avoir, Compteur, EcritureJournal, Facture, Paiement, Remboursement

GENESE = "0" * 64
SEQUENCE = "journal"
T = EcritureJournal.Type
MODELES: dict[str, type[models.Model]] = {
    T.FACTURE: Facture,
    T.AVOIR: Avoir,
    T.PAIEMENT: Paiement,
    T.REMBOURSEMENT: Remboursement,
}
# Columns added after records were first journalled: left out of the canonical JSON while
# null, so the entries written before they existed still match their records.
AJOUTES: dict[type[models.Model], frozenset[str]] = {
    Facture: frozenset({"acomptes"}),
    Paiement: frozenset({"devis_id"}),
}
LIGNES = {T.FACTURE: "lignes", T.AVOIR: "lignes"}


def _valeur(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _champs(obj: models.Model) -> dict[str, Any]:
    ajoutes = AJOUTES.get(type(obj), frozenset())
    return {
        f.attname: _valeur(value)
        for f in obj._meta.concrete_fields
        if (value := f.value_from_object(obj)) is not None or f.attname not in ajoutes
    }


def canonique(type_: str, obj: models.Model) -> str:
    """The record as the journal keeps it: its fields and, for documents, its lines."""
    data = _champs(obj)
    if type_ in LIGNES:
        related = getattr(obj, LIGNES[type_])
        # Prefetched in id order by `verifier`'s lots; else read here.
        prefetched = LIGNES[type_] in getattr(obj, "_prefetched_objects_cache", {})
        lignes = related.all() if prefetched else related.order_by("id")
        data["lignes"] = [_champs(ligne) for ligne in lignes]
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def empreinte(precedent: str, contenu: str) -> str:
    return hashlib.sha256((precedent + contenu).encode()).hexdigest()


def inscrire(*, type_: str, obj: models.Model) -> EcritureJournal:
    """Appends the record to the chain; runs inside the transaction that wrote it."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("inscrire must run inside the transaction that wrote the record")
    Compteur.objects.bulk_create(
        [Compteur(sequence=SEQUENCE, annee=0, dernier=0)], ignore_conflicts=True
    )
    compteur = Compteur.objects.select_for_update().get(sequence=SEQUENCE, annee=0)
    precedent = (
        EcritureJournal.objects.filter(position=compteur.dernier).values_list("hash", flat=True)
    ).first() or GENESE
    compteur.dernier += 1
    compteur.save(update_fields=["dernier"])
    # Read back from the database, so the JSON is the one a later check recomputes.
    contenu = canonique(type_, type(obj).objects.get(pk=obj.pk))
    return EcritureJournal.objects.create(
        position=compteur.dernier,
        type=type_,
        objet_id=obj.pk,
        le=timezone.now(),
        contenu=contenu,
        hash_precedent=precedent,
        hash=empreinte(precedent, contenu),
    )


@dataclass(frozen=True)
class Probleme:
    position: int | None
    message: str

    def __str__(self) -> str:
        where = f"entry #{self.position}: " if self.position is not None else ""
        return where + self.message


@dataclass(frozen=True)
class Verification:
    entrees: int
    tete: str  # the last hash: archive it to anchor the chain
    problemes: list[Probleme]

    @property
    def intact(self) -> bool:
        return not self.problemes


def _differences(stored: str, current: str) -> str:
    before, now = json.loads(stored), json.loads(current)
    keys = sorted(k for k in before.keys() | now.keys() if before.get(k) != now.get(k))
    return ", ".join(keys) or "?"


LOT = 500  # entries read per query by `verifier` (and `verifier_journal --lot`)


def _lot(apres: int, taille: int) -> tuple[list[EcritureJournal], dict[tuple[str, int], Any]]:
    """The next `taille` entries after position `apres`, and the records they name, read in
    one query per kind of record (with their lines prefetched), not one per entry."""
    entrees = list(EcritureJournal.objects.filter(position__gt=apres).order_by("position")[:taille])
    ids: dict[str, set[int]] = {}
    for entree in entrees:
        ids.setdefault(entree.type, set()).add(entree.objet_id)
    objets: dict[tuple[str, int], Any] = {}
    for type_, pks in ids.items():
        modele = MODELES.get(type_)
        if modele is None:
            continue
        queryset = modele.objects.filter(pk__in=pks)
        if type_ in LIGNES:
            lignes = getattr(modele, LIGNES[type_]).rel.related_model.objects.order_by("id")
            queryset = queryset.prefetch_related(models.Prefetch(LIGNES[type_], queryset=lignes))
        objets.update({(type_, obj.pk): obj for obj in queryset})
    return entrees, objets


def verifier(*, premier_seulement: bool = False, lot: int = LOT) -> Verification:
    """Checks the whole chain, in order; the first problem found is the first listed.

    The entries are read `lot` at a time (by position), with the records of each lot in a
    few queries: memory and round trips stay bounded however long the journal is."""
    if lot < 1:
        raise ValueError("lot must be at least 1")
    problemes: list[Probleme] = []
    precedent, attendue, n = GENESE, 1, 0

    def signaler(position: int | None, message: str) -> bool:
        problemes.append(Probleme(position, message))
        return premier_seulement

    def verifier_entree(entree: EcritureJournal, obj: Any) -> bool:
        """Checks one entry; True when the check stops here (the first problem only)."""
        if entree.position != attendue:
            gap = f"#{attendue}" + (
                f" to #{entree.position - 1}" if entree.position - 1 > attendue else ""
            )
            if signaler(attendue, f"removed (the chain jumps from {gap} to #{entree.position})"):
                return True
        if entree.hash_precedent != precedent:
            if signaler(
                entree.position,
                "not chained to the entry before it (an entry was removed or altered)",
            ):
                return True
        if empreinte(entree.hash_precedent, entree.contenu) != entree.hash:
            if signaler(
                entree.position,
                f"altered: its hash does not match its content ({entree.type} {entree.objet_id})",
            ):
                return True
        if obj is None:
            if signaler(
                entree.position, f"the {entree.type} id={entree.objet_id} it records was removed"
            ):
                return True
        else:
            actuel = canonique(entree.type, obj)
            if actuel != entree.contenu:
                nom = getattr(obj, "numero", None) or f"id={obj.pk}"
                diff = _differences(entree.contenu, actuel)
                if signaler(entree.position, f"the {entree.type} {nom} was altered ({diff})"):
                    return True
        return False

    apres, arrete = 0, False
    while not arrete:
        entrees, objets = _lot(apres, lot)
        for entree in entrees:
            n += 1
            if verifier_entree(entree, objets.get((entree.type, entree.objet_id))):
                arrete = True
                break
            precedent, attendue = entree.hash, entree.position + 1
        if len(entrees) < lot:
            break
        apres = entrees[-1].position
    if not arrete:
        dernier = (
            Compteur.objects.filter(sequence=SEQUENCE, annee=0)
            .values_list("dernier", flat=True)
            .first()
            or 0
        )
        if dernier >= attendue:
            arrete = signaler(
                attendue,
                f"removed: the journal ends at #{attendue - 1}, "
                f"entries up to #{dernier} were written",
            )
    if not arrete:
        for type_, modele in MODELES.items():
            # One anti-join per kind of record, however many entries were read.
            journalises = EcritureJournal.objects.filter(type=type_).values("objet_id")
            absents = (
                modele.objects.exclude(pk__in=journalises)
                .order_by("pk")
                .values_list("pk", flat=True)[:10]
            )
            for pk in absents:
                if signaler(None, f"the {type_} id={pk} is not in the journal (written around it)"):
                    return Verification(entrees=n, tete=precedent, problemes=problemes)
    return Verification(entrees=n, tete=precedent, problemes=problemes)
