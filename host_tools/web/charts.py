"""Charts drawn on the server as inline SVG (no chart service, no script), in the station's own
colours: horizontal bars for a few labelled values (channels, ages), columns for a series in
time (days of a month, months of a year). Values are integers (minor units, Wh); `text` formats
one for its label (money by default)."""

from markupsafe import Markup, escape

from host_tools.vending.money import fmt

BAR_H, GAP, LABEL_W, VALUE_W, WIDTH = 22, 8, 140, 90, 640
COLUMNS_H, AXIS_H, TOP = 180, 34, 30


def _open(title, height):
    return [
        f'<svg class="chart" role="img" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="16" class="chart-title">{escape(title)}</text>',
    ]


def bars(title, items, text=fmt, empty="nothing sold"):
    """A horizontal bar chart of [(label, value)] (negative values drawn as zero)."""
    items = list(items)
    height = max(1, len(items)) * (BAR_H + GAP) + 30
    top = max([value for _, value in items] + [1])
    span = WIDTH - LABEL_W - VALUE_W
    parts = _open(title, height)
    for i, (label, value) in enumerate(items):
        y = 26 + i * (BAR_H + GAP)
        width = max(0, round(span * value / top))
        parts += [
            f'<text x="{LABEL_W - 8}" y="{y + 16}" text-anchor="end">{escape(label)}</text>',
            f'<rect x="{LABEL_W}" y="{y}" width="{width}" height="{BAR_H}" class="chart-bar"/>',
            f'<text x="{LABEL_W + width + 6}" y="{y + 16}">{escape(text(value))}</text>',
        ]
    if not items:
        parts.append(f'<text x="{LABEL_W}" y="42">{escape(empty)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def columns(title, items, text=fmt, every=1):
    """A column chart of a series [(label, value)] in time order; every `every`-th label is
    written under its column (all of them on hover: each column has a <title>). The largest
    value is written at the top of the scale; negative values are drawn as zero."""
    items = list(items)
    height = TOP + COLUMNS_H + AXIS_H
    top = max([value for _, value in items] + [0])
    left, right = 70, WIDTH - 10
    step = (right - left) / max(1, len(items))
    base = TOP + COLUMNS_H
    parts = _open(title, height)
    parts += [
        f'<line x1="{left}" y1="{base}" x2="{right}" y2="{base}" class="chart-axis"/>',
        f'<text x="{left - 6}" y="{TOP + 10}" text-anchor="end">{escape(text(top))}</text>',
        f'<text x="{left - 6}" y="{base}" text-anchor="end">{escape(text(0))}</text>',
    ]
    for i, (label, value) in enumerate(items):
        h = round(COLUMNS_H * max(0, value) / top) if top > 0 else 0
        x = left + i * step + step * 0.15
        parts.append(
            f'<rect x="{x:.1f}" y="{base - h}" width="{step * 0.7:.1f}" height="{h}" '
            f'class="chart-bar"><title>{escape(label)}: {escape(text(value))}</title></rect>'
        )
        if i % every == 0:
            middle = left + i * step + step / 2
            parts.append(
                f'<text x="{middle:.1f}" y="{base + 18}" text-anchor="middle" '
                f'class="chart-label">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))
