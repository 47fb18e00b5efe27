"""The customer's pages: server-rendered HTML, readable on a phone, no JavaScript needed.

`/devis/<link>/` shows an estimate and takes the customer's answer. No account: the link
itself (signed, single-purpose, expiring, usable once) is the credential. Errors are HTML
pages here, not JSON: 403 for a link that cannot be used, 400 for an incomplete answer (the
page again, with the reasons), 409 when the order or the estimate moved on meanwhile.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect

from metier import selectors
from metier.models import Devis
from metier.services import Conflict, LienInvalide, Reponse, devis_du_lien, repondre_devis
from metier.services.devis import validate_reponse

# What the customer reads when a link cannot be used (LienInvalide.code).
RAISONS = {
    "altere": "Ce lien n'est pas valide : il a été modifié ou mal recopié.",
    "inconnu": "Ce devis n'existe plus.",
    "repondu": "Vous avez déjà répondu à ce devis.",
    "retire": "Le garage a retiré ce devis. Il vous en enverra un nouveau si besoin.",
    "remplace": "Ce lien a été remplacé par un lien plus récent envoyé par le garage.",
    "expire": "Ce devis a expiré.",
}
# What the customer reads next to a field the answer lacks (by the field's prefix).
CHAMPS = {
    "decision": "Acceptez ou refusez cette ligne.",
    "piec": "Choisissez une pièce neuve ou une pièce de réemploi.",
    "signature": "Tapez votre nom complet pour signer (2 à 100 caractères).",
}


def _client_ip(request: HttpRequest) -> str | None:
    """The client's address: the proxies' X-Forwarded-For only as far as it is trusted
    (GARAGE_NUM_PROXIES, as the throttles read it), else the connection's."""
    proxies = settings.REST_FRAMEWORK.get("NUM_PROXIES") or 0
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if hops:
            return hops[-min(proxies, len(hops))]
    return request.META.get("REMOTE_ADDR") or None


def _document(devis: Devis) -> str:
    """The estimate as shown: rendered without the request, so the same estimate gives the
    same bytes, whose SHA-256 is recorded with the answer."""
    return render_to_string(
        "portail/devis_document.html",
        {"devis": devis, "lignes": selectors.lignes_devis(devis)},
    )


def _refused(request: HttpRequest, exc: LienInvalide) -> HttpResponse:
    context = {"raison": RAISONS.get(exc.code, RAISONS["altere"]), "devis": exc.devis}
    context["code"] = exc.code
    return render(request, "portail/lien_invalide.html", context, status=403)


def _form_errors(errors: dict[str, list[str]], lignes: list) -> dict[str, str]:
    """The reasons in the customer's words, also set on each line (`erreur_decision`...)."""
    texts = {field: CHAMPS.get(field.split("-")[0], " ".join(r)) for field, r in errors.items()}
    for ligne in lignes:
        ligne.erreur_decision = texts.get(f"decision-{ligne.pk}", "")
        ligne.erreur_piec = texts.get(f"piec-{ligne.pk}", "")
    return texts


@never_cache
@csrf_protect
def devis(request: HttpRequest, jeton: str) -> HttpResponse:
    if request.method not in ("GET", "HEAD", "POST"):
        response = render(
            request, "portail/message.html", {"message": "Méthode non permise."}, status=405
        )
        response["Allow"] = "GET, HEAD, POST"
        return response
    try:
        found = devis_du_lien(jeton)
    except LienInvalide as exc:
        return _refused(request, exc)
    document = _document(found)
    empreinte = hashlib.sha256(document.encode()).hexdigest()
    lignes = list(selectors.lignes_devis(found))
    context = {"devis": found, "document": document, "empreinte": empreinte, "lignes": lignes}
    if request.method != "POST":
        return render(request, "portail/devis.html", {**context, "valeurs": {}, "erreurs": {}})

    valeurs = {k: v for k, v in request.POST.items() if k != "csrfmiddlewaretoken"}
    reponse = Reponse(
        decisions={str(x.pk): valeurs.get(f"decision-{x.pk}", "") for x in lignes},
        choix_piec={str(x.pk): valeurs.get(f"piec-{x.pk}", "") for x in lignes},
        signature=valeurs.get("signature", "")[:1000],
    )
    context["valeurs"] = valeurs
    for ligne in lignes:  # what the customer chose, shown again if the page comes back
        ligne.valeur_decision = reponse.decisions[str(ligne.pk)]
        ligne.valeur_piec = reponse.choix_piec[str(ligne.pk)]
    if valeurs.get("empreinte") != empreinte:
        # The estimate is not the one the customer read (changed meanwhile, or a forged form).
        context["erreurs"] = {}
        context["alerte"] = "Le devis a changé depuis que vous l'avez ouvert : relisez-le."
        return render(request, "portail/devis.html", context, status=409)
    errors = validate_reponse(found, reponse)
    if errors:
        context["erreurs"] = _form_errors(errors, lignes)
        return render(request, "portail/devis.html", context, status=400)
    try:
        answered = repondre_devis(
            jeton=jeton,
            reponse=reponse,
            document=document,
            adresse_ip=_client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
    except LienInvalide as exc:
        return _refused(request, exc)
    except ValidationError as exc:
        context["erreurs"] = _form_errors(exc.message_dict, lignes)
        return render(request, "portail/devis.html", context, status=400)
    except Conflict as exc:
        message = (
            "Votre réponse n'a pas pu être enregistrée : la réparation a changé entre-temps "
            f"({exc}). Le garage va vous contacter."
        )
        return render(request, "portail/message.html", {"message": message}, status=409)
    return render(
        request,
        "portail/devis_merci.html",
        {"devis": answered, "lignes": selectors.lignes_devis(answered)},
    )
