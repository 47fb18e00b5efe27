"""Logging configuration shared by Django (settings.LOGGING) and the web server
(garage/web.py): one format, UTC timestamps everywhere, the request id on every line.

`GARAGE_LOG_FORMAT=json` gives one JSON object per line (python-json-logger); the default
`plain` is for people. No Django import here: the server's main process loads this first.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

from .context import request_id

FORMATS = ("plain", "json")

# observability.middleware writes one line per request there (headers are never logged);
# in JSON its method, path, status, bytes and duration_ms are fields of their own.
ACCESS_LOGGER = "garage.access"


class RequestIdFilter(logging.Filter):
    """Puts the request id in hand (or `-`) on every record, as `request_id`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
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
        if log_data.get("request_id") == "-":
            del log_data["request_id"]


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
            # Django logs every 4xx as a warning; the access log already has one line
            # per request, so a 401 was logged twice. 5xx are still logged here.
            "django.request": {"level": "ERROR"},
            "django.server": {"level": "ERROR"},
        },
    }


def server_logging(fmt: str, level: str) -> dict[str, Any]:
    """The web server's (granian's) logging: its main process and workers, same format."""
    config = django_logging(fmt, level)
    config["handlers"]["console"]["stream"] = "ext://sys.stdout"
    config["loggers"] = {
        "_granian": {"handlers": ["console"], "level": level, "propagate": False},
        "granian.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
    }
    return config
