"""What every domain function shares: its errors and the validate-then-save step."""

from __future__ import annotations

from typing import Any

from django.db.models import ProtectedError


class NotFound(Exception):
    """A referenced object does not exist (the API answers 404)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class Conflict(Exception):
    """The request contradicts the current state (the API answers 409)."""


def save(instance: Any) -> Any:
    """Runs the model's validation (fields and constraints), then saves."""
    instance.full_clean()
    instance.save()
    return instance


def update(instance: Any, fields: dict[str, Any]) -> Any:
    for name, value in fields.items():
        setattr(instance, name, value)
    return save(instance)


def delete(instance: Any) -> None:
    try:
        instance.delete()
    except ProtectedError as exc:
        raise Conflict(f"this {instance._meta.model_name} is still used by other records") from exc
