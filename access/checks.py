"""`manage.py check`: every API view says what permission each of its actions needs.

At run time an undeclared action is refused to everyone (access/permissions.py); this check
names it before that, so that a new `@action` cannot ship without its permission.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.core.checks import Error, Tags, register
from django.urls import URLPattern, URLResolver, get_resolver

from .permissions import CRUD_ACTIONS, METHOD_ACTIONS, ModelActionPermission


def _patterns(resolver: URLResolver, prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from _patterns(entry, prefix + str(entry.pattern))
        else:
            yield prefix + str(entry.pattern), entry


def _undeclared(view_cls: Any, actions: dict[str, str] | None) -> list[str]:
    """The actions (or methods) of this view whose permission cannot be known."""
    checked = [p for p in view_cls.permission_classes if issubclass(p, ModelActionPermission)]
    if not checked or getattr(view_cls, "required_permissions", None) is not None:
        return []
    if any(getattr(p, "declares_permissions", False) for p in checked):
        return []
    declared = getattr(view_cls, "action_permissions", {}) or {}
    has_model = getattr(view_cls, "queryset", None) is not None
    missing = []
    if actions is not None:  # a viewset: method -> action name
        for name in set(actions.values()):
            if name in declared:
                continue
            if name not in CRUD_ACTIONS or not has_model:
                missing.append(name)
    else:
        for method in view_cls.http_method_names:
            if hasattr(view_cls, method.lower()) and method.upper() in METHOD_ACTIONS:
                if not has_model:
                    missing.append(method.upper())
    return missing


@register(Tags.security)
def every_action_has_a_permission(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    errors, seen = [], set()
    for route, pattern in _patterns(get_resolver()):
        view_cls = getattr(pattern.callback, "cls", None)
        if view_cls is None:
            continue
        missing = sorted(_undeclared(view_cls, getattr(pattern.callback, "actions", None)))
        if missing and (view_cls, tuple(missing)) not in seen:  # once, not per URL suffix
            seen.add((view_cls, tuple(missing)))
            errors.append(
                Error(
                    f"{view_cls.__module__}.{view_cls.__name__} at /{route}: no permission "
                    f"declared for {', '.join(missing)}",
                    hint="declare it in the viewset's action_permissions (or "
                    "required_permissions), and give it to roles in access/roles.py",
                    id="access.E001",
                )
            )
    return errors
