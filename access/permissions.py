"""The permission checks of every API view, and a helper for checks inside views/services.

`ModelActionPermission` is the default permission class (settings.REST_FRAMEWORK): a
request must be authenticated (else 401), and its user must hold the permission of what it
does (else 403):

- the CRUD actions of a viewset need the model's `view_`, `add_`, `change_` or `delete_`
  permission (reads need `view_`, unlike DRF's DjangoModelPermissions);
- any other action, e.g. a status transition `@action def demarrer(...)`, needs what the
  viewset declares in `action_permissions = {"demarrer": "metier.demarrer_reparation"}`;
  an action declared nowhere is refused to everyone (and logged), never allowed;
- a view without a model declares `required_permissions` (see `requires`).

A new endpoint is protected by declaring its model (queryset) and, for its own actions,
their permissions; which roles hold them is said in access/roles.py.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied
from rest_framework.exceptions import MethodNotAllowed
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

log = logging.getLogger(__name__)

# The model permission each standard viewset action needs.
CRUD_ACTIONS = {
    "list": "view",
    "retrieve": "view",
    "create": "add",
    "update": "change",
    "partial_update": "change",
    "destroy": "delete",
    "metadata": "view",  # OPTIONS
}
# For views without viewset actions (APIView, generics).
METHOD_ACTIONS = {
    "GET": "view",
    "HEAD": "view",
    "OPTIONS": "view",
    "POST": "add",
    "PUT": "change",
    "PATCH": "change",
    "DELETE": "delete",
}


def _as_tuple(perms: str | Iterable[str]) -> tuple[str, ...]:
    return (perms,) if isinstance(perms, str) else tuple(perms)


def model_permission(model: Any, action: str) -> str:
    """`metier.view_piece` for (Piece, "view")."""
    return f"{model._meta.app_label}.{action}_{model._meta.model_name}"


def required_permissions(request: Request, view: Any) -> tuple[str, ...] | None:
    """What this request needs, or None when nothing is declared for it (refused)."""
    action = getattr(view, "action", None)
    declared = getattr(view, "action_permissions", {}) or {}
    if action in declared:
        return _as_tuple(declared[action])
    required = getattr(view, "required_permissions", None)
    if isinstance(required, dict):
        return _as_tuple(required[request.method]) if request.method in required else None
    if required is not None:
        return _as_tuple(required)
    if action is not None and action not in CRUD_ACTIONS:
        return None  # a custom action must say what it needs
    model = _model_of(view)
    crud = CRUD_ACTIONS.get(action) if action else METHOD_ACTIONS.get(request.method)
    if model is None or crud is None:
        return None
    return (model_permission(model, crud),)


def _unsupported(request: Request, view: Any) -> bool:
    method = (request.method or "").lower()
    if method not in getattr(view, "http_method_names", ()):
        return True
    if getattr(view, "action_map", None) is not None:  # a viewset: the router's mapping
        return method not in view.action_map and method != "options"
    return not hasattr(view, method)


def _model_of(view: Any) -> Any:
    queryset = getattr(view, "queryset", None)
    if queryset is None and hasattr(view, "get_queryset"):
        try:
            queryset = view.get_queryset()
        except AssertionError:
            return None
    return getattr(queryset, "model", None)


class ModelActionPermission(BasePermission):
    """Authenticated, and holding the permission(s) of the action (see the module doc)."""

    message = "You do not have the permission to do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        if _unsupported(request, view):
            # TRACE, FOO...: no handler on this view, so no permission to look for. A 405
            # with its Allow header, not a 403 and an error in the logs.
            raise MethodNotAllowed(request.method)
        user = request.user
        if not user or not user.is_authenticated:
            return False  # DRF answers 401 (not authenticated), not 403
        needed = required_permissions(request, view)
        if needed is None:
            log.error(
                "refused %s %s: %s declares no permission for action %r",
                request.method,
                request.path,
                type(view).__name__,
                getattr(view, "action", None),
            )
            return False
        return user.has_perms(needed)


def requires(*perms: str) -> type[BasePermission]:
    """A permission class for a function view: `@permission_classes([requires("a.b")])`."""

    class Requires(ModelActionPermission):
        declares_permissions = True  # for access.checks

        def has_permission(self, request: Request, view: Any) -> bool:
            view.required_permissions = perms
            return super().has_permission(request, view)

    Requires.__name__ = f"Requires({', '.join(perms)})"
    return Requires


def require_permission(user: Any, *perms: str) -> None:
    """For checks that depend on the data, e.g. the permission of the status a request asks
    for: raises PermissionDenied (the API answers 403) unless `user` holds all of `perms`."""
    if user is None or not user.is_authenticated or not user.has_perms(perms):
        raise PermissionDenied(f"needs the permission {' and '.join(perms)}")
