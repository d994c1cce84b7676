"""Customers on the meter registry: change a meter's customer and phone, and import a customer
list (CSV) — all or nothing.

A customer is the `customer` and `phone` of a meter row (one customer per meter, as on the
receipt). The import's columns (header row required, any order, extra columns refused):

    meter,customer,phone[,tariff,unit,scale,imp_per_kwh]

A row for a registered meter sets its customer and phone (and moves it to `tariff` when that is
given); a row for a new meter registers it and needs tariff, unit, scale and imp_per_kwh. Every
bad row is reported with its line number, and then nothing is written: the whole file is one
transaction.
"""

import csv
import io

from sqlalchemy import update

from host_tools.vending import StationError, db, registry

PHONE_MAX = 32
COLUMNS = ("meter", "customer", "phone", "tariff", "unit", "scale", "imp_per_kwh")
REQUIRED = ("meter", "customer")
NEW_METER = ("tariff", "unit", "scale", "imp_per_kwh")
MAX_ROWS = 50_000
MAX_ERRORS = 100  # reported; the count of the rest is given


class ImportRefused(StationError):
    """The list had bad rows: `errors` holds "line N: ..." for each; nothing was written."""

    def __init__(self, errors, more=0):
        self.errors = errors
        tail = f" (and {more} more)" if more else ""
        super().__init__(f"{len(errors) + more} bad row(s), nothing imported{tail}")


def check_customer(customer, phone):
    customer = (customer or "").strip()
    if len(customer) > registry.NAME_MAX or not customer.isprintable():
        raise StationError(f"customer must be at most {registry.NAME_MAX} printable characters")
    phone = (phone or "").strip()
    if len(phone) > PHONE_MAX or not all(ch.isdigit() or ch in "+-() " for ch in phone):
        raise StationError(f"phone must be at most {PHONE_MAX} digits, spaces and + - ( )")
    return customer, phone


def set_customer(conn, number, customer, phone):
    """Change a meter's customer and phone (the meter's sales and tokens are not touched)."""
    customer, phone = check_customer(customer, phone)
    row = registry.get_meter(conn, number)
    conn.execute(
        update(db.meters)
        .where(db.meters.c.number == row.number)
        .values(customer=customer, phone=phone)
    )
    return row.number


def whole(text, what):
    text = (text or "").strip()
    if not text.isdigit():
        raise StationError(f"{what} must be a whole number, not {text!r}")
    return int(text)


def _import_row(conn, row, stamp):
    """Apply one row; returns "added" or "updated" (StationError on a bad row)."""
    number = registry.check_meter(row.get("meter"))
    customer, phone = check_customer(row.get("customer"), row.get("phone"))
    if not customer:
        raise StationError("customer is empty")
    tariff = (row.get("tariff") or "").strip()
    try:
        registry.get_meter(conn, number)
    except StationError:
        missing = [name for name in NEW_METER if not (row.get(name) or "").strip()]
        if missing:
            raise StationError(
                f"meter {number} is not registered: give {', '.join(missing)} to register it"
            ) from None
        registry.add_meter(
            conn,
            number,
            row["unit"].strip(),
            whole(row["scale"], "scale"),
            whole(row["imp_per_kwh"], "imp_per_kwh"),
            tariff,
            customer,
            phone,
            False,
            stamp,
        )
        return "added"
    set_customer(conn, number, customer, phone)
    if tariff:
        registry.set_tariff(conn, number, tariff)
    return "updated"


def _read_rows(text):
    """[(line number, {column: text})] of a customer list, or ImportRefused for its header."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")), skipinitialspace=True)
    header = [(name or "").strip().lower() for name in reader.fieldnames or []]
    unknown = [name for name in header if name not in COLUMNS]
    missing = [name for name in REQUIRED if name not in header]
    if not header or unknown or missing:
        problem = f"unknown column(s) {', '.join(unknown)}" if unknown else "no header row"
        if missing and header and not unknown:
            problem = f"missing column(s) {', '.join(missing)}"
        raise ImportRefused([f"line 1: {problem}; the columns are {','.join(COLUMNS)}"])
    reader.fieldnames = header
    rows = []
    for row in reader:
        if not any((value or "").strip() for value in row.values() if isinstance(value, str)):
            continue  # a blank line
        rows.append((reader.line_num, row))
        if len(rows) > MAX_ROWS:
            raise ImportRefused([f"line {reader.line_num}: more than {MAX_ROWS} rows"])
    return rows


def import_customers(station, text, now=None):
    """Import a customer list (CSV text); {"added": n, "updated": n} or ImportRefused."""
    try:
        rows = _read_rows(text)
    except csv.Error as exc:
        raise ImportRefused([f"not a readable CSV file: {exc}"]) from None
    if not rows:
        raise ImportRefused(["line 2: the list has no rows"])
    stamp = station.stamp(now)

    def work(conn):
        counts, errors, seen = {"added": 0, "updated": 0}, [], {}
        for line, row in rows:
            if None in row:
                errors.append(f"line {line}: more fields than columns")
                continue
            number = (row.get("meter") or "").strip()
            if number in seen:
                errors.append(f"line {line}: meter {number} is already on line {seen[number]}")
                continue
            seen[number] = line
            try:
                counts[_import_row(conn, row, stamp)] += 1
            except StationError as exc:
                errors.append(f"line {line}: {exc}")
        if errors:
            # Raising rolls the whole transaction back: nothing of the list is kept.
            raise ImportRefused(errors[:MAX_ERRORS], max(0, len(errors) - MAX_ERRORS))
        return counts

    return station.write(work)
