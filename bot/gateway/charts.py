"""Small SVG charts for the Insights page, drawn on the server: no script, no outside
library, readable without colour (every bar carries its number)."""

from __future__ import annotations

from collections.abc import Callable

from markupsafe import Markup, escape

CONTAINED = "#2e7d32"
HANDED_OFF = "#e65100"
BAR = "#1f5fbf"
INK = "#1d2330"
MUTED = "#5b6475"


def _svg(width: int, height: int, title: str, body: list[str]) -> Markup:
    return Markup(
        f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg" '
        f'font-family="system-ui, sans-serif" font-size="12">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def volume_chart(days: list[dict], width: int = 720, height: int = 260) -> Markup:
    """Conversations per day, each bar split into contained (bottom) and handed off."""
    title = "Conversations per day: contained by the bot and handed off to a person"
    if not days:
        return _svg(
            width, 60, title, [f'<text x="8" y="30" fill="{MUTED}">No conversations</text>']
        )
    return _days_chart(
        days,
        title,
        [("Contained", CONTAINED), ("Handed off", HANDED_OFF)],
        lambda day: [
            (day.get("contained", 0), CONTAINED, "contained"),
            (day.get("handed_off", 0), HANDED_OFF, "handed off"),
        ],
        lambda day: str(day["conversations"]),
        width,
        height,
    )


def _days_chart(
    days: list[dict],
    title: str,
    legend: list[tuple[str, str]],
    parts: Callable[[dict], list[tuple[int, str, str]]],
    above: Callable[[dict], str | None],
    width: int,
    height: int,
) -> Markup:
    """One stacked bar per day: `parts(day)` gives (value, colour, what) from the bottom up,
    `above(day)` the figure written over the bar (None: nothing)."""
    left, right, top, bottom = 36, 8, 28, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max(sum(value for value, _, _ in parts(day)) for day in days) or 1
    slot = plot_w / len(days)
    bar_w = max(min(slot * 0.7, 48), 2)
    label_every = max(1, round(len(days) / 10))
    body = [
        _legend(left, 14, legend),
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" '
        f'stroke="{MUTED}"/>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" fill="{MUTED}">{peak}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end" fill="{MUTED}">0</text>',
    ]
    for i, day in enumerate(days):
        x = left + i * slot + (slot - bar_w) / 2
        base = top + plot_h
        for value, colour, what in parts(day):
            h = plot_h * value / peak
            if value:
                body.append(
                    f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{bar_w:.1f}" '
                    f'height="{h:.1f}" fill="{colour}"><title>{escape(day["date"])}: '
                    f"{value} {what}</title></rect>"
                )
            base -= h
        figure = above(day)
        if figure is not None and bar_w >= 14:
            body.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{base - 4:.1f}" text-anchor="middle" '
                f'fill="{INK}">{figure}</text>'
            )
        if i % label_every == 0:
            body.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h + 16}" text-anchor="middle" '
                f'fill="{MUTED}">{escape(day["date"][5:])}</text>'
            )
    return _svg(width, height, title, body)


def containment_chart(contained: int, total: int, width: int = 720) -> Markup:
    """One bar split in two, the shares written on it."""
    title = "Containment: conversations the bot finished without a person"
    if not total:
        return _svg(
            width, 40, title, [f'<text x="8" y="24" fill="{MUTED}">No conversations</text>']
        )
    share = contained / total
    split = width * share
    body = [
        f'<rect x="0" y="0" width="{split:.1f}" height="36" fill="{CONTAINED}"/>',
        f'<rect x="{split:.1f}" y="0" width="{width - split:.1f}" height="36" '
        f'fill="{HANDED_OFF}"/>',
    ]
    if share >= 0.12:
        body.append(
            f'<text x="8" y="23" fill="#fff" font-size="14" font-weight="600">'
            f"{share:.0%} contained ({contained})</text>"
        )
    if 1 - share >= 0.12:
        body.append(
            f'<text x="{width - 8}" y="23" text-anchor="end" fill="#fff" font-size="14" '
            f'font-weight="600">{1 - share:.0%} handed off ({total - contained})</text>'
        )
    return _svg(width, 36, title, body)


def reason_chart(counts: list[tuple[str, int]], width: int = 720) -> Markup:
    """Horizontal bars, largest first, each labelled and numbered."""
    title = "Handoffs by reason"
    if not counts:
        return _svg(width, 40, title, [f'<text x="8" y="24" fill="{MUTED}">No handoffs</text>'])
    label_w, row = 190, 30
    peak = max(n for _, n in counts) or 1
    body = []
    for i, (label, n) in enumerate(counts):
        y = i * row
        w = (width - label_w - 50) * n / peak
        body += [
            f'<text x="{label_w - 8}" y="{y + 19}" text-anchor="end" fill="{INK}">'
            f"{escape(label)}</text>",
            f'<rect x="{label_w}" y="{y + 5}" width="{max(w, 2):.1f}" height="20" fill="{BAR}"/>',
            f'<text x="{label_w + w + 6:.1f}" y="{y + 19}" fill="{INK}">{n}</text>',
        ]
    return _svg(width, row * len(counts), title, body)


def csat_chart(days: list[dict], width: int = 720, height: int = 260) -> Markup:
    """Ratings per day the survey was asked, each bar split into satisfied (4-5, bottom) and
    not (1-3), the day's average rating above it."""
    title = "Ratings per day: satisfied (4-5) and not (1-3), with the day's average"
    if not any(d["rated"] for d in days):
        return _svg(width, 60, title, [f'<text x="8" y="30" fill="{MUTED}">No ratings</text>'])
    return _days_chart(
        days,
        title,
        [("Rated 4-5", CONTAINED), ("Rated 1-3", HANDED_OFF)],
        lambda day: [
            (day["satisfied"], CONTAINED, "rated 4-5"),
            (day["rated"] - day["satisfied"], HANDED_OFF, "rated 1-3"),
        ],
        lambda day: None if day["average_rating"] is None else f"{day['average_rating']:.1f}",
        width,
        height,
    )


def _legend(x: int, y: int, items: list[tuple[str, str]]) -> str:
    parts = []
    for label, colour in items:
        parts.append(f'<rect x="{x}" y="{y - 10}" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{x + 16}" y="{y}" fill="{INK}">{escape(label)}</text>')
        x += 24 + 7 * len(label)
    return "".join(parts)
