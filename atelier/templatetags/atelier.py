from datetime import timedelta

from django import template

register = template.Library()


@register.filter
def attente(value: timedelta | None) -> str:
    """A wait as a person says it: `< 1 min`, `12 min`, `3 h 05`, `2 j 4 h`. Whole minutes:
    the board's text then changes once a minute, not at every poll."""
    if value is None:
        return "—"
    seconds = max(int(value.total_seconds()), 0)
    if seconds < 60:
        return "< 1 min"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d}"
    days, hours = divmod(hours, 24)
    return f"{days} j {hours} h"


@register.filter
def ms(value: timedelta | None) -> str:
    """A latency in milliseconds (seconds beyond 10 s)."""
    if value is None:
        return "—"
    total = value.total_seconds()
    return f"{total * 1000:.0f} ms" if total < 10 else f"{total:.1f} s"
