"""Keyset (cursor) pagination: constant cost at any depth, no COUNT(*), and correct over any
ordering the API allows.

A page is "the rows after (or before) this position" in an ordering made total by a unique
tie-breaker (the primary key). The position is the last (or first) row's values of the
ordering's fields, carried in an opaque cursor. Empty values (NULL) have a place of their
own: last in ascending order, first in descending order (so NULL behaves as the greatest
value in both), on every database; the keyset condition says so explicitly instead of
relying on SQL's `>`, which never matches NULL.

Every cursor is decoded and checked field by field before it reaches a query: a cursor
that is not one of ours, or holds a value its field cannot hold, is a 400 on `cursor`.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import uuid
from base64 import b64encode
from collections import OrderedDict
from decimal import Decimal
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import F, Model, Q, QuerySet
from django.utils import timezone
from rest_framework import pagination
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

CURSOR_ERROR = "invalid cursor: use the `next` and `previous` links as given"
# The widest integer any backend stores (a signed 64-bit column).
INT_LIMIT = 2**63


def _bad_cursor(reason: str = CURSOR_ERROR) -> ValidationError:
    return ValidationError({"cursor": [reason]})


class Term:
    """One field of the ordering: its name, its model field, its direction."""

    def __init__(self, model: type[Model], term: str) -> None:
        self.name = term.lstrip("-")
        self.descending = term.startswith("-")
        if self.name == "pk":
            self.name = model._meta.pk.name
        try:
            field = model._meta.get_field(self.name)
        except FieldDoesNotExist:
            raise ValueError(f"cannot page over {term!r}: no such field") from None
        self.field = field
        self.nullable = bool(getattr(field, "null", False))
        self.term = term

    def order(self, reverse: bool) -> Any:
        descending = self.descending != reverse
        if descending:
            return F(self.name).desc(nulls_first=True)
        return F(self.name).asc(nulls_last=True)

    # Values in a cursor: JSON strings (or null), read back through the model field.
    def encode(self, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, datetime.datetime | datetime.date):
            return value.isoformat()
        if isinstance(value, Decimal | uuid.UUID):
            return str(value)
        if isinstance(value, bool) or not isinstance(value, int | str):
            return str(value)
        return value

    def decode(self, raw: Any) -> Any:
        if raw is None:
            if not self.nullable:
                raise _bad_cursor(f"invalid cursor: `{self.name}` cannot be empty")
            return None
        if isinstance(raw, bool) or not isinstance(raw, int | str):
            raise _bad_cursor()
        try:
            value = self.field.to_python(raw)
            if value is None:
                raise _bad_cursor()
            if isinstance(value, int) and not isinstance(value, bool):
                if not -INT_LIMIT <= value < INT_LIMIT:
                    raise _bad_cursor()
            if isinstance(value, Decimal):
                if not value.is_finite():
                    raise _bad_cursor()
                self.field.run_validators(value)
            if isinstance(value, str):
                if "\x00" in value:
                    raise _bad_cursor()
                value.encode("utf-8")  # a lone surrogate can be neither stored nor compared
            if isinstance(value, datetime.datetime) and timezone.is_naive(value):
                raise _bad_cursor()
        except (DjangoValidationError, ValueError, TypeError, OverflowError, ArithmeticError):
            raise _bad_cursor() from None
        return value

    def after(self, value: Any, reverse: bool) -> Q:
        """The rows strictly after `value` in this field's order (flipped when reverse)."""
        descending = self.descending != reverse
        if value is None:
            # NULL is the greatest value: nothing after it ascending, every value descending.
            return Q(**{f"{self.name}__isnull": False}) if descending else Q(pk__in=[])
        if descending:
            return Q(**{f"{self.name}__lt": value})
        beyond = Q(**{f"{self.name}__gt": value})
        return beyond | Q(**{f"{self.name}__isnull": True}) if self.nullable else beyond

    def equal(self, value: Any) -> Q:
        if value is None:
            return Q(**{f"{self.name}__isnull": True})
        return Q(**{self.name: value})


class CursorPagination(pagination.BasePagination):
    """Cursor pages over the ordering of `?ordering=` (the view's `ordering_fields`), the
    view's `ordering`, or the queryset's own, always ending with the primary key."""

    cursor_query_param = "cursor"
    cursor_query_description = "The pagination cursor value."
    page_size = 50
    page_size_query_param = "page_size"
    page_size_query_description = "Number of results to return per page."
    max_page_size = 500
    ordering = "id"

    def paginate_queryset(
        self, queryset: QuerySet, request: Request, view: Any = None
    ) -> list[Any] | None:
        self.request = request
        self.page_size = self.get_page_size(request)
        self.base_url = request.build_absolute_uri()
        self.terms = self.get_terms(request, queryset, view)
        signature = [t.term for t in self.terms]
        position, reverse = self.decode_cursor(request, signature)

        queryset = queryset.order_by(*(t.order(reverse) for t in self.terms))
        if position is not None:
            queryset = queryset.filter(self.keyset(position, reverse))
        rows = list(queryset[: self.page_size + 1])
        more = len(rows) > self.page_size
        rows = rows[: self.page_size]
        if reverse:
            rows.reverse()
            self.has_next, self.has_previous = position is not None, more
        else:
            self.has_next, self.has_previous = more, position is not None
        self.page = rows
        self.signature = signature
        return rows

    # --- the ordering ----------------------------------------------------------------------
    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            reason = ["must be a whole number"]
            raise ValidationError({self.page_size_query_param: reason}) from None
        if not 1 <= size <= self.max_page_size:
            raise ValidationError(
                {self.page_size_query_param: [f"must be between 1 and {self.max_page_size}"]}
            )
        return size

    def get_terms(self, request: Request, queryset: QuerySet, view: Any) -> list[Term]:
        model = queryset.model
        names: list[str] = []
        view_model = getattr(getattr(view, "queryset", None), "model", None)
        if view is not None and view_model is model:
            for backend in getattr(view, "filter_backends", ()):
                if issubclass(backend, OrderingFilter):
                    names = list(backend().get_ordering(request, queryset, view) or [])
                    break
        if not names:
            # An action's own queryset (a car's repairs): its order, as the selector made it.
            names = [str(o) for o in queryset.query.order_by if isinstance(o, str)]
        if not names:
            names = list(model._meta.ordering or [self.ordering])
        terms: list[Term] = []
        seen: set[str] = set()
        for name in names:
            term = Term(model, name)
            if term.name in seen:
                continue
            seen.add(term.name)
            terms.append(term)
            if term.field.primary_key or (term.field.unique and not term.nullable):
                return terms  # unique already: the order is total
        terms.append(Term(model, model._meta.pk.name))
        return terms

    # --- the keyset condition --------------------------------------------------------------
    def keyset(self, position: list[Any], reverse: bool) -> Q:
        condition = Q(pk__in=[])
        prefix = Q()
        for term, value in zip(self.terms, position, strict=True):
            condition |= prefix & term.after(value, reverse)
            prefix &= term.equal(value)
        return condition

    # --- cursors ---------------------------------------------------------------------------
    def decode_cursor(self, request: Request, signature: list[str]) -> tuple[list | None, bool]:
        raw = request.query_params.get(self.cursor_query_param)
        if raw is None:
            return None, False
        try:
            data = json.loads(base64.b64decode(raw.encode("ascii"), validate=True))
        except (ValueError, UnicodeError, binascii.Error):
            raise _bad_cursor() from None
        if not isinstance(data, dict) or set(data) != {"o", "p", "r"}:
            raise _bad_cursor()
        if data["o"] != signature:
            raise _bad_cursor("invalid cursor: it was made for another ordering")
        if not isinstance(data["r"], bool) or not isinstance(data["p"], list):
            raise _bad_cursor()
        if len(data["p"]) != len(self.terms):
            raise _bad_cursor()
        position = [t.decode(v) for t, v in zip(self.terms, data["p"], strict=True)]
        return position, data["r"]

    def encode_cursor(self, row: Any, reverse: bool) -> str:
        position = [t.encode(getattr(row, t.field.attname)) for t in self.terms]
        payload = json.dumps({"o": self.signature, "p": position, "r": reverse})
        token = b64encode(payload.encode()).decode("ascii")
        return replace_query_param(self.base_url, self.cursor_query_param, token)

    def get_next_link(self) -> str | None:
        if not self.has_next:
            return None
        if not self.page:
            return remove_query_param(self.base_url, self.cursor_query_param)
        return self.encode_cursor(self.page[-1], reverse=False)

    def get_previous_link(self) -> str | None:
        if not self.has_previous:
            return None
        if not self.page:
            return remove_query_param(self.base_url, self.cursor_query_param)
        return self.encode_cursor(self.page[0], reverse=True)

    # --- the answer and its schema (DRF's shape) ---------------------------------------------
    def get_paginated_response(self, data: list) -> Response:
        return Response(
            OrderedDict(
                [
                    ("next", self.get_next_link()),
                    ("previous", self.get_previous_link()),
                    ("results", data),
                ]
            )
        )

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return pagination.CursorPagination().get_paginated_response_schema(schema)

    def get_schema_operation_parameters(self, view: Any) -> list[dict]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": self.cursor_query_description,
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": self.page_size_query_description,
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
        ]
