"""Logging configuration shared by Django (settings.LOGGING) and gunicorn (its config file):
one format, UTC timestamps everywhere, the request id on every line.

`GARAGE_LOG_FORMAT=json` gives one JSON object per line (python-json-logger); the default
`plain` is for people. No Django import here: gunicorn's master loads this before Django.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

from .context import request_id

FORMATS = ("plain", "json")

# gunicorn's access-log atoms kept as fields in JSON (`r`, the request line, and `h`, the
# client address, are in the message already; headers are never logged).
_ACCESS_FIELDS = {
    "m": "method",
    "U": "path",
    "s": "status",
    "B": "bytes",
    "M": "duration_ms",
}


class RequestIdFilter(logging.Filter):
    """Puts the request id in hand (or `-`) on every record, as `request_id`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            if record.name == "gunicorn.access" and isinstance(record.args, dict):
                # Written after the response: the id is the one the response carries.
                record.request_id = record.args.get("{x-request-id}o") or "-"
            else:
                record.request_id = request_id.get() or "-"
        return True


class UTCFormatter(logging.Formatter):
    """ISO 8601 in UTC, whatever TZ the process has (Django sets it from TIME_ZONE).
    The worker's batch lines list their request ids at the end."""

    converter = time.gmtime

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = getattr(record, "request_ids", None)
        return f"{line} request_ids={','.join(ids)}" if ids else line

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S", self.converter(record.created)) + (
            f".{int(record.msecs):03d}Z"
        )


class JsonFormatter(_JsonFormatter):
    converter = time.gmtime
    formatTime = UTCFormatter.formatTime

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict):
        super().add_fields(log_data, record, message_dict)
        if record.name == "gunicorn.access" and isinstance(record.args, dict):
            for atom, field in _ACCESS_FIELDS.items():
                value = record.args.get(atom)
                if value not in (None, "-"):
                    log_data[field] = _number(value)
        if log_data.get("request_id") == "-":
            del log_data["request_id"]


def _number(value: object) -> object:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return value


PLAIN = "%(asctime)s %(levelname)s %(process)d %(name)s [%(request_id)s] %(message)s"
JSON = "%(asctime)s %(levelname)s %(process)d %(name)s %(message)s"


def formatters(fmt: str) -> dict[str, dict[str, Any]]:
    if fmt not in FORMATS:
        raise ValueError(f"GARAGE_LOG_FORMAT must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if fmt == "json":
        return {
            "garage": {
                "()": JsonFormatter,
                "fmt": JSON,
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            }
        }
    return {"garage": {"()": UTCFormatter, "format": PLAIN}}


def django_logging(fmt: str, level: str) -> dict[str, Any]:
    """settings.LOGGING."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": formatters(fmt),
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "garage",
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # pika logs every failed connection attempt at ERROR with a traceback; the
            # messaging module logs one line of its own for each, with the backoff.
            "pika": {"level": "CRITICAL"},
            # Django logs every 4xx as a warning; gunicorn's access log already has one
            # line per request, so a 401 was logged twice. 5xx are still logged here.
            "django.request": {"level": "ERROR"},
            "django.server": {"level": "ERROR"},
        },
    }


def gunicorn_logging(fmt: str, level: str) -> dict[str, Any]:
    """gunicorn's `logconfig_dict`: its master, workers and access log, same format."""
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "garage",
        "filters": ["request_id"],
        "stream": "ext://sys.stdout",
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": formatters(fmt),
        "handlers": {"console": handler},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "gunicorn.error": {"handlers": ["console"], "level": level, "propagate": False},
            "gunicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
        },
    }
