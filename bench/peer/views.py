"""The peer's intake: validate, queue the task (confirmed by the broker), answer 202."""

import json
import time

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from bench.peer.tasks import make_repair


def _queue(piece: object, duree: object) -> JsonResponse:
    try:
        piece, duree = int(piece), int(duree)
    except (TypeError, ValueError):
        return JsonResponse({"detail": "piece and duree must be integers"}, status=400)
    if piece < 1 or not 1 <= duree <= 1000:
        return JsonResponse({"detail": "out of range"}, status=400)
    accepted = time.time()
    result = make_repair.apply_async((piece, duree, accepted))
    return JsonResponse({"id": result.id, "piece": piece, "duree": duree}, status=202)


@require_GET
def by_path(request: HttpRequest, piece: int, duree: int) -> JsonResponse:
    return _queue(piece, duree)


@csrf_exempt
@require_POST
def by_body(request: HttpRequest) -> JsonResponse:
    try:
        body = json.loads(request.body)
    except ValueError:
        return JsonResponse({"detail": "malformed JSON"}, status=400)
    if not isinstance(body, dict):
        return JsonResponse({"detail": "a JSON object is expected"}, status=400)
    return _queue(body.get("piece"), body.get("duree"))


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})
