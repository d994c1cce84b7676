"""Charts drawn on the server as inline SVG (no chart service, no script): bars for one series
of money amounts, labelled, in the station's own colours. Amounts are integer minor units."""

from markupsafe import Markup, escape

from host_tools.vending.money import fmt

BAR_H, GAP, LABEL_W, VALUE_W, WIDTH = 22, 8, 140, 90, 640


def bars(title, items):
    """A horizontal bar chart of [(label, minor units)] (negative amounts drawn as zero)."""
    items = list(items)
    height = max(1, len(items)) * (BAR_H + GAP) + 30
    top = max([amount for _, amount in items] + [1])
    span = WIDTH - LABEL_W - VALUE_W
    parts = [
        f'<svg class="chart" role="img" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="16" class="chart-title">{escape(title)}</text>',
    ]
    for i, (label, amount) in enumerate(items):
        y = 26 + i * (BAR_H + GAP)
        width = max(0, round(span * amount / top))
        parts += [
            f'<text x="{LABEL_W - 8}" y="{y + 16}" text-anchor="end">{escape(label)}</text>',
            f'<rect x="{LABEL_W}" y="{y}" width="{width}" height="{BAR_H}" class="bar"/>',
            f'<text x="{LABEL_W + width + 6}" y="{y + 16}">{escape(fmt(amount))}</text>',
        ]
    if not items:
        parts.append(f'<text x="{LABEL_W}" y="42">nothing sold</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
