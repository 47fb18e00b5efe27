"""The API's filters: DRF's search with its errors in the API's shape (`{"search": [...]}`),
and django-filter's query parameters typed as the schema documents them."""

from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django_filters import rest_framework as df
from rest_framework import filters
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request


class SearchFilter(filters.SearchFilter):
    def get_search_terms(self, request: Request) -> list[str]:
        try:
            return super().get_search_terms(request)
        except ValidationError as exc:
            raise ValidationError({self.search_param: exc.detail}) from None


# --- Strict query parameters: an integer filter takes an integer, a boolean true/false ---


INTEGER = re.compile(r"[-+]?[0-9]+")


class StrictIntegerField(forms.IntegerField):
    """Digits, an optional sign: not `0.5`, nor `0.0` (which Django's IntegerField takes)."""

    def to_python(self, value: object) -> int | None:
        if isinstance(value, str) and value.strip() and not INTEGER.fullmatch(value.strip()):
            raise DjangoValidationError("must be a whole number", code="invalid")
        return super().to_python(value)


class IntegerFilter(df.NumberFilter):
    """`?duree__lte=0.5` is a 400, as the schema's `integer` says (django-filter reads
    integer columns as decimals)."""

    field_class = StrictIntegerField


class TrueFalseField(forms.Field):
    """`true` or `false` (any case); empty: no filter. Not django-filter's `null`/`unknown`."""

    def to_python(self, value: object) -> bool | None:
        if value in (None, ""):
            return None
        if isinstance(value, bool):
            return value
        text = str(value).lower()
        if text in ("true", "false"):
            return text == "true"
        raise DjangoValidationError("must be true or false", code="invalid")


class TrueFalseFilter(df.BooleanFilter):
    field_class = TrueFalseField

    def __init__(self, *args: object, **kwargs: object) -> None:
        # The plain widget: django-filter's BooleanWidget reads anything else as "no filter".
        kwargs["widget"] = forms.TextInput
        super().__init__(*args, **kwargs)


INTEGERS = (
    models.AutoField,
    models.BigAutoField,
    models.SmallAutoField,
    models.IntegerField,
    models.BigIntegerField,
    models.SmallIntegerField,
    models.PositiveIntegerField,
    models.PositiveBigIntegerField,
    models.PositiveSmallIntegerField,
)


class FilterSet(df.FilterSet):
    """Every filter set of the API: query parameters typed as the schema documents them."""

    FILTER_DEFAULTS = {
        **df.FilterSet.FILTER_DEFAULTS,
        **{cls: {"filter_class": IntegerFilter} for cls in INTEGERS},
        models.BooleanField: {"filter_class": TrueFalseFilter},
    }

    def is_valid(self) -> bool:
        super().is_valid()
        # `?cree_le__lte=` is no date-time: an empty parameter is a mistake, not "no filter".
        for name in self.filters:
            if name in self.data and "" in self.data.getlist(name):
                self.form.add_error(name, "must not be empty")
        return not self.form.errors


class DjangoFilterBackend(df.DjangoFilterBackend):
    filterset_base = FilterSet
