"""The messages' templates, per kind of message and channel, in French.

A template is text with `{variable}` fields (Python's format syntax, nothing else: no
attribute, index, conversion or format spec). Each kind has a fixed set of variables; every
template is loaded and checked when the notifier starts (`charger`), so a misspelt variable
or a missing file stops the process at once instead of failing at send time.

Email templates start with `Objet : <subject>` and a blank line. The built-in templates are
in `gabarits/`; GARAGE_NOTIFIER_TEMPLATES names a folder of one's own, with the same files.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

COMMON = frozenset({"client", "vehicule", "immatriculation", "garage"})
VARIABLES: dict[str, frozenset[str]] = {
    "voiture_prete": COMMON | {"reparation", "total_ttc"},
    "devis_a_approuver": COMMON | {"numero", "lien", "total_ttc", "valide_jusqu_au"},
    "pieces_arrivees": COMMON | {"reparation"},
    "rappel_du": COMMON | {"nature", "echeance", "kilometrage"},
}
CANAUX = ("email", "sms")
BUILTIN = Path(__file__).resolve().parent / "gabarits"
SUBJECT_PREFIX = "Objet :"
SMS_MAX = 480  # three SMS segments at most


@dataclass(frozen=True)
class Gabarit:
    nom: str
    canal: str
    objet: str  # email only
    corps: str

    def rendre(self, contexte: dict[str, object]) -> tuple[str, str]:
        values = {k: "" if v is None else v for k, v in contexte.items()}
        return self.objet.format_map(values), self.corps.format_map(values)


def _fields(text: str, where: str) -> set[str]:
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ImproperlyConfigured(f"template {where}: {exc} (write {{{{ for a brace)") from exc
    names = set()
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise ImproperlyConfigured(
                f"template {where}: {{{name}{'!' + conversion if conversion else ''}"
                f"{':' + spec if spec else ''}}} is not a plain {{variable}}"
            )
        names.add(name)
    return names


def _parse(nom: str, canal: str, text: str, where: str) -> Gabarit:
    objet, corps = "", text.strip()
    if canal == "email":
        first, _, rest = text.partition("\n")
        if not first.startswith(SUBJECT_PREFIX):
            raise ImproperlyConfigured(f"template {where}: the first line must be 'Objet : ...'")
        objet, corps = first[len(SUBJECT_PREFIX) :].strip(), rest.strip()
    unknown = (_fields(objet, where) | _fields(corps, where)) - VARIABLES[nom]
    if unknown:
        raise ImproperlyConfigured(
            f"template {where} uses unknown variable(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(VARIABLES[nom]))}"
        )
    return Gabarit(nom, canal, objet, corps)


def charger(dossier: str | Path | None = None) -> dict[tuple[str, str], Gabarit]:
    """Loads and checks every template (ImproperlyConfigured names the first bad one)."""
    root = Path(dossier or settings.GARAGE_NOTIFIER_TEMPLATES or BUILTIN)
    gabarits = {}
    for nom in VARIABLES:
        for canal in CANAUX:
            path = root / f"{nom}.{canal}.txt"
            if not path.is_file():
                raise ImproperlyConfigured(f"template {path} is missing")
            gabarits[nom, canal] = _parse(nom, canal, path.read_text(encoding="utf-8"), str(path))
    return gabarits
