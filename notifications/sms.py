"""SMS through a provider interface: an HTTP provider adapter and a file backend.

`SmsProvider.send` returns the provider's id for the message, or raises `SmsError` (the
notifier retries it later). GARAGE_SMS_BACKEND picks one: `http` (the provider's API at
GARAGE_SMS_URL: `POST {"from", "to", "text", "reference"}` as JSON, bearer token
GARAGE_SMS_TOKEN, a 2xx answer `{"id": ...}`), `file` (one JSON file per message in
GARAGE_SMS_DIR, for local runs and tests) or `""` (none: every SMS fails, and says why).

This is the application's one outbound HTTP call besides webhooks (pyproject's import
contract names it): a provider's API, never the project's own.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Protocol

from django.conf import settings


class SmsError(Exception):
    pass


class SmsProvider(Protocol):
    def send(self, *, numero: str, texte: str, reference: str) -> str: ...


class FileSms:
    """Writes each SMS to `<dir>/<reference>.json` (the reference is the notification's)."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def send(self, *, numero: str, texte: str, reference: str) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{reference}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"to": numero, "text": texte}, ensure_ascii=False))
        tmp.replace(path)
        return reference


class HttpSms:
    """A provider's HTTP API (JSON in, JSON out, bearer token)."""

    def __init__(self, url: str, token: str, sender: str, timeout: float) -> None:
        if not url.startswith(("https://", "http://")):
            raise SmsError(f"GARAGE_SMS_URL must be an http(s) URL, not {url!r}")
        self.url, self.token, self.sender, self.timeout = url, token, sender, timeout

    def send(self, *, numero: str, texte: str, reference: str) -> str:
        body = json.dumps(
            {"from": self.sender, "to": numero, "text": texte, "reference": reference},
            ensure_ascii=False,
        ).encode()
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {self.token}",
                "Idempotency-Key": reference,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                payload = answer.read(64 * 1024)
        except urllib.error.HTTPError as exc:
            raise SmsError(f"SMS provider answered {exc.code}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise SmsError(f"SMS provider unreachable: {exc}") from exc
        try:
            return str(json.loads(payload).get("id") or reference)
        except (ValueError, AttributeError):
            return reference


class NoSms:
    def send(self, *, numero: str, texte: str, reference: str) -> str:
        raise SmsError("no SMS backend configured (GARAGE_SMS_BACKEND)")


def provider() -> SmsProvider:
    backend = settings.GARAGE_SMS_BACKEND
    if backend == "file":
        return FileSms(settings.GARAGE_SMS_DIR)
    if backend == "http":
        return HttpSms(
            settings.GARAGE_SMS_URL,
            settings.GARAGE_SMS_TOKEN,
            settings.GARAGE_SMS_SENDER,
            settings.GARAGE_SMS_TIMEOUT,
        )
    if backend == "":
        return NoSms()
    raise SmsError(f"GARAGE_SMS_BACKEND must be file, http or empty, not {backend!r}")


def new_reference() -> str:
    return uuid.uuid4().hex
