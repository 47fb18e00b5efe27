"""The workshop board: columns of repairs by status, parts to reorder, the pipeline panel.

Server-rendered; the page polls its own fragment every GARAGE_BOARD_REFRESH_MS (a short
request each time, see README "The workshop board" for why not server-sent events). Each
person sees what their permissions allow, and its buttons call the same domain functions,
with the same permission checks, as the API's actions: a refusal reads the same (409).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from metier import selectors, services
from metier.models import Piece, Reparation

from . import chart, figures

S = Reparation.Statut


@dataclass(frozen=True)
class Colonne:
    statut: str
    titre: str


COLONNES = (
    Colonne(S.DEMANDEE, "Demandées"),
    Colonne(S.EN_ATTENTE_PIECES, "En attente de pièces"),
    Colonne(S.PLANIFIEE, "Planifiées"),
    Colonne(S.EN_COURS, "En cours"),
    Colonne(S.TERMINEE, "Terminées"),
)
# The moves offered on the cards (invoicing and cancelling stay in the admin and the API).
ACTIONS_TABLEAU = {"planifier": "Planifier", "demarrer": "Démarrer", "terminer": "Terminer"}
VOIR = "metier.view_reparation"


def _page(request: HttpRequest, template: str, context: dict, status: int = 200) -> HttpResponse:
    context = {
        "garage_nom": settings.GARAGE_NOM,
        "refresh_ms": settings.GARAGE_BOARD_REFRESH_MS,
        **context,
    }
    return TemplateResponse(request, template, context, status=status)


def _erreur(request: HttpRequest, status: int, message: str) -> HttpResponse:
    titles = {400: "Demande invalide", 403: "Accès refusé", 404: "Introuvable", 405: "Méthode"}
    context = {"status": status, "titre": titles.get(status, "Erreur"), "message": message}
    return _page(request, "atelier/erreur.html", context, status)


def _refus(request: HttpRequest) -> HttpResponse | None:
    """Who may not see the board: anonymous (to the login page), or without the right."""
    if not request.user.is_authenticated:
        return redirect(f"{reverse(settings.LOGIN_URL)}?next={request.get_full_path()}")
    if not request.user.has_perm(VOIR):
        return _erreur(request, 403, "Votre rôle ne donne pas accès au tableau de l'atelier.")
    return None


def _carte(reparation: Reparation, now, user: Any) -> dict[str, Any]:
    actions = [
        (name, label)
        for name, label in ACTIONS_TABLEAU.items()
        if reparation.statut in services.ACTIONS[name].sources
        and user.has_perm(services.ACTIONS[name].permission)
    ]
    return {"r": reparation, "attente": now - reparation.depuis, "actions": actions}


def _context(request: HttpRequest) -> dict[str, Any]:
    user = request.user
    now = timezone.now()
    limit = settings.GARAGE_BOARD_CARDS
    colonnes = []
    for colonne in COLONNES:
        rows = selectors.atelier(statut=colonne.statut, limit=limit + 1)
        colonnes.append(
            {
                "c": colonne,
                "cartes": [_carte(r, now, user) for r in rows[:limit]],
                "plus": len(rows) > limit,
            }
        )
    context: dict[str, Any] = {
        "colonnes": colonnes,
        "voir": {
            # Each part of a card shown only to who may read that model (a mechanic does
            # not see customers; a storekeeper sees parts, not cars).
            "voiture": user.has_perm("metier.view_voiture"),
            "client": user.has_perm("metier.view_client"),
            "piece": user.has_perm("metier.view_piece"),
            "pipeline": user.has_perm("metier.view_demande"),
        },
        "recevoir": user.has_perm("metier.receptionner_piece"),
        "now": now,
    }
    if context["voir"]["piece"]:
        context["a_commander"] = list(selectors.pieces_a_commander().order_by("nom")[:limit])
    if context["voir"]["pipeline"]:
        minutes = figures.history.get() or []
        context["pipeline"] = figures.pipeline.get()
        context["broker"] = figures.broker.get()
        context["chart"] = chart.chart(minutes)
    return context


def tableau(request: HttpRequest) -> HttpResponse:
    refus = _refus(request)
    if refus is not None:
        return refus
    return _page(request, "atelier/tableau.html", _context(request))


def fragment(request: HttpRequest) -> HttpResponse:
    """What the page polls: the board's inside, without the page around it."""
    if not request.user.is_authenticated:
        # The session ended: the page reloads itself, and so reaches the login page.
        return HttpResponse("session expirée", status=401, content_type="text/plain")
    refus = _refus(request)
    if refus is not None:
        return refus
    response = _page(request, "atelier/_tableau.html", _context(request))
    response["Cache-Control"] = "no-store"
    return response


def _apres(request: HttpRequest, error: str, status: int) -> HttpResponse:
    """A refused move: the board itself, with the reason on top, and the 4xx status."""
    return _page(request, "atelier/tableau.html", {**_context(request), "erreur": error}, status)


def transition(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    refus = _refus(request)
    if refus is not None:
        return refus
    if request.method != "POST":
        return _erreur(request, 405, "Cette adresse attend un formulaire (POST).")
    if action not in ACTIONS_TABLEAU:
        return _erreur(request, 404, f"Pas d'action « {action} » sur le tableau.")
    if not request.user.has_perm(services.ACTIONS[action].permission):
        return _erreur(request, 403, f"Votre rôle ne permet pas de {action} une réparation.")
    reparation = Reparation.objects.filter(pk=pk).first()
    if reparation is None:
        return _erreur(request, 404, f"Pas de réparation n° {pk}.")
    try:
        services.transition(reparation=reparation, action=action, par=request.user)
    except services.Conflict as exc:
        return _apres(request, str(exc), 409)
    messages.success(request, f"Réparation n° {pk} : {ACTIONS_TABLEAU[action].lower()}, fait.")
    return redirect("atelier:tableau")


def reception(request: HttpRequest, pk: int) -> HttpResponse:
    refus = _refus(request)
    if refus is not None:
        return refus
    if request.method != "POST":
        return _erreur(request, 405, "Cette adresse attend un formulaire (POST).")
    if not request.user.has_perm("metier.receptionner_piece"):
        return _erreur(request, 403, "Votre rôle ne permet pas de réceptionner des pièces.")
    piece = Piece.objects.filter(pk=pk).first()
    if piece is None:
        return _erreur(request, 404, f"Pas de pièce n° {pk}.")
    text = request.POST.get("quantite", "").strip()
    # The domain validates the number; anything that is not plain digits reaches it as is.
    quantite: Any = int(text) if text.isascii() and text.isdigit() and len(text) < 10 else text
    try:
        piece = services.receive_stock(piece=piece, quantite=quantite, par=request.user)
    except ValidationError as exc:
        reason = "; ".join(m for ms in exc.message_dict.values() for m in ms)
        return _apres(request, f"quantite: {reason}", 400)
    messages.success(request, f"{text} × {piece.nom} réceptionné(s) : stock {piece.stock}.")
    return redirect("atelier:tableau")
