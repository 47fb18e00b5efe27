"""OpenAPI: every operation documents the errors it can answer, in the shapes api.errors gives."""

from __future__ import annotations

ERROR_SCHEMAS = {
    "Detail": {
        "type": "object",
        "properties": {"detail": {"type": "string"}},
        "required": ["detail"],
        "description": "An error that is not about one field.",
    },
    "FieldErrors": {
        "type": "object",
        "additionalProperties": {"type": "array", "items": {"type": "string"}},
        "description": "Invalid input: each field named, with its reasons.",
    },
}


def _response(description: str, schema: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def add_error_responses(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing hook: adds the standard error answers to each operation."""
    result.setdefault("components", {}).setdefault("schemas", {}).update(ERROR_SCHEMAS)
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            if method in ("post", "put", "patch"):
                responses.setdefault(
                    "400", _response("Invalid input or malformed JSON", "FieldErrors")
                )
                responses.setdefault("413", _response("Request body too large", "Detail"))
            if "{" in path or method in ("post", "put", "patch"):
                responses.setdefault("404", _response("Not found", "Detail"))
            if method in ("put", "patch", "delete") or (method == "post" and "{" in path):
                responses.setdefault("409", _response("Not allowed in the current state", "Detail"))
    return result
