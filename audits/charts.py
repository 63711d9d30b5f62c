"""Bar charts as inline SVG, for report pages that must read without JavaScript.

A chart is drawn once, when a report is published, and frozen into its page; it uses no
script, no external font or stylesheet, and carries its own text (<title> and the figures
beside each bar) so a screen reader and a printout show what the bars show.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH = 640
LABEL_WIDTH = 230
VALUE_WIDTH = 70
ROW_HEIGHT = 24
BAR_HEIGHT = 16


@dataclass(frozen=True)
class Bar:
    """One bar: its label, its value (None when withheld or undefined) and the text shown."""

    label: str
    value: float | None
    shown: str


def bar_chart(title: str, bars: Sequence[Bar], *, maximum: float | None = None) -> SafeString:
    """Return a horizontal bar chart of `bars` as an <svg> element.

    Bars scale to `maximum` (default: the largest value); a bar without a value is drawn as
    its text alone.
    """
    values = [b.value for b in bars if b.value is not None]
    top = maximum if maximum is not None else max(values, default=0.0)
    span = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    height = ROW_HEIGHT * len(bars) + 8
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" '
        f'width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" '
        f'aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for row, bar in enumerate(bars):
        y = 4 + row * ROW_HEIGHT
        middle = y + ROW_HEIGHT / 2 + 4
        parts.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{middle:.0f}" text-anchor="end" '
            f'font-size="13">{escape(bar.label)}</text>'
        )
        length = 0.0
        if bar.value is not None and top > 0:
            length = max(0.0, min(1.0, bar.value / top)) * span
        if length > 0:
            parts.append(
                f'<rect x="{LABEL_WIDTH}" y="{y + (ROW_HEIGHT - BAR_HEIGHT) / 2:.0f}" '
                f'width="{length:.1f}" height="{BAR_HEIGHT}" fill="#2b6cb0"/>'
            )
        parts.append(
            f'<text x="{LABEL_WIDTH + length + 6:.1f}" y="{middle:.0f}" '
            f'font-size="13">{escape(bar.shown)}</text>'
        )
    parts.append("</svg>")
    # Every piece of text above went through escape(); the markup is our own.
    return mark_safe("".join(parts))  # noqa: S308
