"""A small SVG chart of the last hour, drawn on the server (no JavaScript library)."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from metier.selectors import Minute

WIDTH, HEIGHT = 240, 60


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]  # requests accepted per minute
    line: str  # repairs made per minute, as SVG polyline points
    peak: int
    width: int = WIDTH
    height: int = HEIGHT


def chart(minutes: list[Minute]) -> Chart:
    peak = max([1, *(m.demandes for m in minutes), *(m.reparations for m in minutes)])
    step = WIDTH / max(len(minutes), 1)
    bars, points = [], []
    for i, m in enumerate(minutes):
        h = HEIGHT * m.demandes / peak
        when = f"{timezone.localtime(m.debut):%H:%M}"
        label = f"{when} : {m.demandes} demandes, {m.reparations} réparations"
        x, y, w = round(i * step, 1), round(HEIGHT - h, 1), round(step * 0.8, 1)
        bars.append(Bar(x, y, w, round(h, 1), label))
        y = HEIGHT - HEIGHT * m.reparations / peak
        points.append(f"{i * step + step * 0.4:.1f},{y:.1f}")
    return Chart(bars=bars, line=" ".join(points), peak=peak)
