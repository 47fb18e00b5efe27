"""Read queries, in one place, so that the API and the admin list things the same way."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import (
    Aggregate,
    Case,
    CharField,
    Count,
    DecimalField,
    DurationField,
    ExpressionWrapper,
    F,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Greatest, Least, TruncMinute
from django.utils import timezone

from .models import (
    Approbation,
    Avoir,
    Client,
    Demande,
    Devis,
    DevisLigne,
    Facture,
    LigneAvoir,
    LigneFacture,
    LigneMainOeuvre,
    LignePiece,
    Notification,
    Paiement,
    Piece,
    Remboursement,
    Reparation,
    Transition,
    Voiture,
    normalise_immatriculation,
)


def pieces() -> QuerySet[Piece]:
    return Piece.objects.all()


def pieces_a_commander() -> QuerySet[Piece]:
    """Parts whose available quantity is at or below their reorder threshold."""
    return Piece.objects.filter(stock__lte=F("seuil") + F("reserve"))


def clients() -> QuerySet[Client]:
    return Client.objects.all()


def voitures() -> QuerySet[Voiture]:
    return Voiture.objects.select_related("client")


def search_voitures(
    queryset: QuerySet[Voiture], text: str, *, clients: bool = True
) -> QuerySet[Voiture]:
    """By plate (however it is written), VIN, or (`clients`: for those who may see them) the
    client's name."""
    text = text.strip()
    plate = normalise_immatriculation(text)
    condition = Q(vin__icontains=text.upper())
    if clients:
        condition |= Q(client__nom__icontains=text)
    if plate:
        condition |= Q(immatriculation__icontains=plate)
    return queryset.filter(condition)


def reparations() -> QuerySet[Reparation]:
    # Lines are shown with each repair: fetched per page, not per row.
    return Reparation.objects.prefetch_related(
        Prefetch("lignes_pieces", queryset=LignePiece.objects.order_by("id")),
        Prefetch("lignes_main_oeuvre", queryset=LigneMainOeuvre.objects.order_by("id")),
    )


def historique_voiture(voiture: Voiture) -> QuerySet[Reparation]:
    return reparations().filter(voiture=voiture).order_by("-id")


def transitions(reparation: Reparation) -> QuerySet[Transition]:
    return Transition.objects.filter(reparation=reparation).select_related("par")


def lignes_pieces() -> QuerySet[LignePiece]:
    return LignePiece.objects.all()


def lignes_main_oeuvre() -> QuerySet[LigneMainOeuvre]:
    return LigneMainOeuvre.objects.all()


def demandes() -> QuerySet[Demande]:
    return Demande.objects.select_related("reparation")


# --- invoicing ---------------------------------------------------------------------------
def _somme(queryset: QuerySet, group: str, field: str) -> Coalesce:
    """SUM(field) of the correlated rows, 0 when there are none."""
    return Coalesce(
        Subquery(queryset.order_by().values(group).annotate(s=Sum(field)).values("s")[:1]),
        Value(Decimal("0.00")),
        output_field=DecimalField(max_digits=12, decimal_places=2),
    )


def factures() -> QuerySet[Facture]:
    """Invoices with what they received, what was credited and what is still due. Derived
    here, because the invoice row itself never changes once issued."""
    recu = Paiement.objects.filter(reparation=OuterRef("reparation_id"))
    rendu = Remboursement.objects.filter(reparation=OuterRef("reparation_id"))
    credite = Avoir.objects.filter(facture=OuterRef("pk"))
    return (
        Facture.objects.annotate(
            montant_recu=_somme(recu, "reparation", "montant"),
            montant_rembourse=_somme(rendu, "reparation", "montant"),
            montant_avoirs=_somme(credite, "facture", "total_ttc"),
        )
        .annotate(
            reste_du=F("total_ttc")
            - F("montant_avoirs")
            - F("montant_recu")
            + F("montant_rembourse")
        )
        .prefetch_related(Prefetch("lignes", queryset=LigneFacture.objects.order_by("position")))
    )


def factures_impayees() -> QuerySet[Facture]:
    """The receivables: invoices with something still due, oldest first."""
    return factures().filter(reste_du__gt=0).order_by("date", "id")


def avoirs() -> QuerySet[Avoir]:
    """Credit notes with what was refunded on each (`montant_rembourse`) and what their
    invoice still awaits (`facture_reste_du`, negative when a refund is owed), for
    `services.etat_remboursement` without further queries."""
    rendu = Remboursement.objects.filter(avoir=OuterRef("pk"))
    reste = factures().filter(pk=OuterRef("facture_id")).values("reste_du")[:1]
    return (
        Avoir.objects.select_related("facture")
        .annotate(
            montant_rembourse=_somme(rendu, "avoir", "montant"),
            facture_reste_du=Subquery(
                reste, output_field=DecimalField(max_digits=12, decimal_places=2)
            ),
        )
        .prefetch_related(Prefetch("lignes", queryset=LigneAvoir.objects.order_by("id")))
    )


def avoirs_a_rembourser() -> QuerySet[Avoir]:
    """Credit notes on which money is owed back to the customer (what they cancelled of a
    paid invoice, not yet refunded), oldest first: the refunds to make."""
    du = Greatest(
        Least(F("total_ttc") - F("montant_rembourse"), -F("facture_reste_du")),
        Value(Decimal("0.00")),
        output_field=DecimalField(max_digits=12, decimal_places=2),
    )
    return avoirs().annotate(du=du).filter(du__gt=0).order_by("date", "id")


def paiements() -> QuerySet[Paiement]:
    return Paiement.objects.select_related("facture", "devis")


def remboursements() -> QuerySet[Remboursement]:
    return Remboursement.objects.select_related("avoir", "facture")


# --- the workshop board -------------------------------------------------------------------
def atelier(*, statut: str, limit: int) -> list[Reparation]:
    """The repairs of one status, with their car, customer and part, and `depuis`: when they
    entered that status. At most `limit` (oldest first; the most recent first once done)."""
    depuis = (
        Transition.objects.filter(reparation=OuterRef("pk"), vers=OuterRef("statut"))
        .order_by("-le", "-id")
        .values("le")[:1]
    )
    order = "-id" if statut == Reparation.Statut.TERMINEE else "id"
    return list(
        Reparation.objects.filter(statut=statut)
        .select_related("voiture__client", "piece")
        .annotate(depuis=Coalesce(Subquery(depuis), F("cree_le")))
        .order_by(order)[:limit]
    )


def retard_publication(now: datetime | None = None) -> float:
    """The outbox's lag: seconds since the oldest request still unpublished (`acceptee`)
    was accepted; 0 when there is none. One indexed query (`demande_a_publier`)."""
    oldest = (
        Demande.objects.filter(statut=Demande.Statut.ACCEPTEE)
        .order_by("cree_le")
        .values_list("cree_le", flat=True)
        .first()
    )
    if oldest is None:
        return 0.0
    return max(0.0, ((now or timezone.now()) - oldest).total_seconds())


# --- the pipeline's figures: the workshop board's panel and /metrics read the same ------
@dataclass(frozen=True)
class PipelineFigures:
    """What the request pipeline did over `window`, from the requests' own timestamps."""

    window: timedelta
    demandes: int  # accepted by the intake in the window
    rejetees: int  # of those, rejected
    reparations: int  # repairs made from a request in the window
    latence_p50: timedelta | None  # request accepted → repair committed
    latence_p95: timedelta | None
    a_publier: int  # in the outbox, not yet confirmed by the broker
    retard_outbox: timedelta | None  # age of the oldest of those
    en_file: int  # on the queue, no outcome yet

    @property
    def par_minute(self) -> float:
        return self.demandes / (self.window.total_seconds() / 60)


class _Percentile(Aggregate):
    """PostgreSQL's percentile_cont (interpolated), over an interval."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = DurationField()

    def __init__(self, expression: Any, fraction: float) -> None:
        super().__init__(expression, fraction=f"{float(fraction)!r}")


def _percentile(values: list[timedelta], fraction: float) -> timedelta | None:
    """The same interpolation as percentile_cont, over sorted values."""
    if not values:
        return None
    rank = fraction * (len(values) - 1)
    low = int(rank)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (rank - low)


def pipeline_figures(*, now: datetime, window: timedelta = timedelta(minutes=5)) -> PipelineFigures:
    """Requests per minute, end-to-end latency (p50, p95), the outbox and the queue, over the
    last `window`. Each figure is an indexed range or a partial index: cheap at any size."""
    since = now - window
    accepted = Demande.objects.filter(cree_le__gt=since, cree_le__lte=now).aggregate(
        n=Count("id"), rejetees=Count("id", filter=Q(statut=Demande.Statut.REJETEE))
    )
    made = Reparation.objects.filter(
        cree_le__gt=since, cree_le__lte=now, demande__traitee_le__isnull=False
    )
    latency = ExpressionWrapper(
        F("demande__traitee_le") - F("demande__cree_le"), output_field=DurationField()
    )
    if connection.vendor == "postgresql":
        row = made.aggregate(
            n=Count("id"), p50=_Percentile(latency, 0.5), p95=_Percentile(latency, 0.95)
        )
        count, p50, p95 = row["n"], row["p50"], row["p95"]
    else:
        values = sorted(made.annotate(latence=latency).values_list("latence", flat=True))
        count, p50, p95 = len(values), _percentile(values, 0.5), _percentile(values, 0.95)
    outbox = Demande.objects.filter(statut=Demande.Statut.ACCEPTEE).aggregate(
        n=Count("id"), oldest=Min("cree_le")
    )
    return PipelineFigures(
        window=window,
        demandes=accepted["n"],
        rejetees=accepted["rejetees"],
        reparations=count,
        latence_p50=p50,
        latence_p95=p95,
        a_publier=outbox["n"],
        retard_outbox=max(now - outbox["oldest"], timedelta(0)) if outbox["oldest"] else None,
        en_file=Demande.objects.filter(statut=Demande.Statut.EN_FILE).count(),
    )


# --- estimates (Devis) -------------------------------------------------------------------
def devis() -> QuerySet[Devis]:
    """Estimates with `statut_affiche`: `expire` for an open one past its validity date (the
    stored status stays; nothing has to run at midnight), else the stored status."""
    today = timezone.localdate()
    return (
        Devis.objects.select_related("reparation")
        .prefetch_related(Prefetch("lignes", queryset=DevisLigne.objects.order_by("id")))
        .annotate(
            statut_affiche=Case(
                When(
                    statut__in=Devis.OUVERTS,
                    valide_jusqu_au__lt=today,
                    then=Value(Devis.Statut.EXPIRE),
                ),
                default=F("statut"),
                output_field=CharField(),
            )
        )
    )


def lignes_devis(devis: Devis) -> QuerySet[DevisLigne]:
    return DevisLigne.objects.filter(devis=devis).select_related("piece").order_by("id")


def devis_approuves(reparation: Reparation) -> QuerySet[Devis]:
    """The order's estimates the customer approved, wholly or in part (deposits, invoices)."""
    return Devis.objects.filter(reparation=reparation, statut__in=Devis.APPROUVES)


def travaux_refuses(reparation: Reparation) -> tuple[QuerySet[LignePiece], QuerySet[Any]]:
    """The declined work kept on the order: its part lines and labour lines (for invoices)."""
    return (
        reparation.lignes_pieces.filter(approbation=Approbation.REFUSEE).order_by("id"),
        reparation.lignes_main_oeuvre.filter(approbation=Approbation.REFUSEE).order_by("id"),
    )


@dataclass(frozen=True)
class Minute:
    debut: datetime
    demandes: int
    reparations: int


def pipeline_history(*, now: datetime, minutes: int = 60) -> list[Minute]:
    """Requests accepted and repairs made per minute over the last `minutes`, oldest first
    (the current, partial minute last)."""
    end = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    start = end - timedelta(minutes=minutes)

    def per_minute(queryset: QuerySet) -> dict[datetime, int]:
        rows = (
            queryset.filter(cree_le__gte=start, cree_le__lt=end)
            .annotate(minute=TruncMinute("cree_le", tzinfo=UTC))
            .values("minute")
            .annotate(n=Count("pk"))
            .values_list("minute", "n")
        )
        return {minute: n for minute, n in rows}

    demandes = per_minute(Demande.objects.all())
    reparations = per_minute(Reparation.objects.filter(demande__isnull=False))
    result = []
    for i in range(minutes):
        debut = (start + timedelta(minutes=i)).astimezone(UTC)
        result.append(Minute(debut, demandes.get(debut, 0), reparations.get(debut, 0)))
    return result


def notifications_reparation(reparation: Reparation) -> QuerySet:
    """The notifications sent (or not) about a repair, oldest first (issue 12)."""
    return Notification.objects.filter(reparation=reparation).order_by("cree_le", "id")
