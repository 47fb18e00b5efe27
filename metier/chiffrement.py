"""Secrets kept encrypted: in the database (the webhook subscriptions' signing secrets) and
in events (the estimate's link in `devis.envoye`, which only the notifier may read).

Fernet (AES-128-CBC and HMAC-SHA256, from `cryptography`), with a key derived from
DJANGO_SECRET_KEY: a database dump or backup alone does not give the secrets away. Rotating
the secret key: put the old one in SECRET_KEY_FALLBACKS; what was encrypted with it is still
read (and `manage.py webhooks --rechiffrer` rewrites it with the new key)."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# One key per use, each derived from the secret key: a value encrypted for one use cannot
# be read as another's.
WEBHOOK_SECRET = b"garage.webhooks.secret.v1:"
DEVIS_LIEN = b"garage.devis.lien.v1:"


def _fernet(key: str, usage: bytes) -> Fernet:
    digest = hashlib.sha256(usage + key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _keys(usage: bytes = WEBHOOK_SECRET) -> MultiFernet:
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([_fernet(k, usage) for k in keys])


def chiffrer(texte: str, usage: bytes = WEBHOOK_SECRET) -> str:
    return _keys(usage).encrypt(texte.encode()).decode()


def dechiffrer(jeton: str, usage: bytes = WEBHOOK_SECRET) -> str:
    try:
        return _keys(usage).decrypt(jeton.encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "a secret cannot be decrypted: DJANGO_SECRET_KEY changed without the old "
            "key in SECRET_KEY_FALLBACKS"
        ) from exc


def rechiffrer(jeton: str) -> str:
    """The same secret, encrypted with the current key."""
    return _keys().rotate(jeton.encode()).decode()
