"""CSV downloads of report tables: one file per page, a `table` column saying which table a row
belongs to, and no formula injection when a spreadsheet opens it."""

import csv
import io

from starlette.responses import Response


def safe(cell):
    """Text starting with =, +, -, @ is prefixed with ' (a spreadsheet would run it); numbers
    and amounts are written as they are (a negative amount is not a formula)."""
    if isinstance(cell, int) or _is_amount(cell):
        return cell
    text = str(cell)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _is_amount(text):
    text = str(text)
    return text.lstrip("-").replace(".", "", 1).isdigit() and not text.startswith("--")


def response(filename, header, rows):
    """A text/csv attachment of `header` then `rows` (lists of cells)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe(cell) for cell in row])
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )
