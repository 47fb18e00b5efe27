"""The request id of the work in hand, for the logs (no Django import: gunicorn's config
file and the logging filter read it before Django is set up)."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

REQUEST_ID_HEADER = "X-Request-ID"
# What a client or a proxy may send as its own id: a UUID, a hex string, a trace id...
# Anything else (too long, spaces, control characters) is replaced, never logged.
_VALID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,127}\Z")

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def new_request_id() -> str:
    return uuid.uuid4().hex


def accept_request_id(value: str | None) -> str:
    """The client's id if it is a sensible one, else a new one."""
    if value and _VALID.match(value):
        return value
    return new_request_id()
