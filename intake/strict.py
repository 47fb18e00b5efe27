"""JSON types as the schema documents them, for every serializer that reads a body.

DRF coerces on purpose: `"prix": "1"` is read as 1, `"nom": 0` as "0", `"actif": "yes"` as
true. The published schema says a number, a string, a boolean, and a client that sends
anything else has a bug that should be told, not guessed around. So a field documented as an
integer takes a JSON integer only (not `"3"`, `3.0`, `true`), a number takes a JSON number,
text takes a string, a boolean takes `true` or `false`, a list a list and an object an
object; each mismatch is a 400 naming the field. `null` is left to the field (`allow_null`).

Here, with the intake, so that both the intake and the API (api/serializers.py) use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import models
from rest_framework import fields, relations, serializers
from rest_framework.exceptions import ValidationError


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _pk_is_int(field: relations.PrimaryKeyRelatedField) -> bool:
    queryset = field.get_queryset() if field.queryset is not None else None
    if queryset is None:
        return True
    return isinstance(queryset.model._meta.pk, models.AutoField | models.IntegerField)


def type_error(field: fields.Field, value: Any) -> str | None:
    """Why `value` is not of the JSON type the field is documented with, or None."""
    if value is None:
        return None
    if isinstance(field, serializers.ListSerializer | serializers.ManyRelatedField):
        return None if isinstance(value, list) else "must be a JSON list"
    if isinstance(field, serializers.BaseSerializer):
        return None if isinstance(value, Mapping) else "must be a JSON object"
    if isinstance(field, fields.ListField | fields.MultipleChoiceField):
        return None if isinstance(value, list) else "must be a JSON list"
    if isinstance(field, fields.DictField):
        return None if isinstance(value, Mapping) else "must be a JSON object"
    if isinstance(field, fields.JSONField):
        return None
    if isinstance(field, fields.BooleanField):
        return None if isinstance(value, bool) else "must be true or false"
    if isinstance(field, fields.IntegerField):
        return None if _is_int(value) else "must be a JSON integer (not a string)"
    if isinstance(field, fields.DecimalField | fields.FloatField):
        return None if _is_number(value) else "must be a JSON number (not a string)"
    if isinstance(field, relations.PrimaryKeyRelatedField):
        if _pk_is_int(field):
            return None if _is_int(value) else "must be a JSON integer (an id)"
        return None if isinstance(value, str) else "must be a JSON string (an id)"
    if isinstance(field, fields.ChoiceField):
        keys = list(field.choices)
        if keys and all(isinstance(k, str) for k in keys):
            return None if isinstance(value, str) else "must be a JSON string"
        return None
    if isinstance(field, fields.CharField | fields.DateTimeField | fields.DateField):
        return None if isinstance(value, str) else "must be a JSON string"
    return None


class StrictTypes:
    """A serializer mixin: the body's values are checked against their fields' JSON types
    before DRF reads (and would coerce) them."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            errors = {}
            for name, field in self.fields.items():  # type: ignore[attr-defined]
                if field.read_only or name not in data:
                    continue
                reason = type_error(field, data[name])
                if reason is not None:
                    errors[name] = [reason]
            if errors:
                raise ValidationError(errors)
        return super().to_internal_value(data)  # type: ignore[misc]


class Serializer(StrictTypes, serializers.Serializer):
    pass


class ModelSerializer(StrictTypes, serializers.ModelSerializer):
    pass
