"""Registration plates: one way to write each, whatever was typed.

`ab-123 cd`, `ＡＢ-１２３-ＣＤ` (full-width) and `АВ123CD` (Cyrillic А and В) are one plate,
`AB123CD`: Unicode NFKC first (full-width and other compatibility forms become plain), then
capitals, then the Cyrillic and Greek letters that look like Latin ones become those, then
the separators people type (spaces, dashes, dots) go. What is left must be the registration
alphabet, A–Z and 0–9, or it is not a plate (an emoji, `é`, `ß`...).
"""

from __future__ import annotations

import re
import unicodedata

from django.core.exceptions import ValidationError

from . import limits

# Upper-case Cyrillic and Greek letters drawn like a Latin capital (after str.upper()).
LOOK_ALIKES = str.maketrans(
    {
        # Cyrillic
        "А": "A", "В": "B", "Е": "E", "Ё": "E", "К": "K", "М": "M", "Н": "H", "О": "O",
        "Р": "P", "С": "C", "Т": "T", "У": "Y", "Х": "X", "Ѕ": "S", "І": "I", "Ї": "I",
        "Ј": "J", "Ԛ": "Q", "Ԝ": "W", "Һ": "H", "Ү": "Y",
        # Greek
        "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M",
        "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
    }
)  # fmt: skip
SEPARATORS = re.compile(r"[\s\-.]+")
PLATE_RE = re.compile(rf"[A-Z0-9]{{1,{limits.IMMATRICULATION_MAX}}}")
INVALID = (
    "a plate is letters A–Z and digits 0–9 (spaces, dashes and dots are ignored), "
    f"at most {limits.IMMATRICULATION_MAX}"
)


def normalise_immatriculation(value: str) -> str:
    """The canonical spelling of what was typed (it may still not be a plate)."""
    text = unicodedata.normalize("NFKC", value).upper().translate(LOOK_ALIKES)
    return SEPARATORS.sub("", text)


def est_immatriculation(plate: str) -> bool:
    return PLATE_RE.fullmatch(plate) is not None


def valide_immatriculation(value: str | None) -> str | None:
    """The plate to store: None for none (blank), else its canonical spelling; anything
    that is not a plate is a ValidationError on `immatriculation`."""
    if value is None or not value.strip():
        return None
    plate = normalise_immatriculation(value)
    if not est_immatriculation(plate):
        raise ValidationError({"immatriculation": [INVALID]})
    return plate
