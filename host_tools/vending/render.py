"""Terminal rendering (rich) of receipts, tables and reports for the station verbs."""

from rich.table import Table
from rich.text import Text


def kv_table(title, rows):
    table = Table(title=title, show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for name, value in rows:
        if value not in (None, ""):
            table.add_row(name, str(value))
    return table


def header_lines(r):
    """[(text, bold)]: the station's settings at the top of a receipt (settings.for_print puts
    them on it; the terminal and the web receipt print these lines)."""
    lines = []
    for field in ("utility_name", "address", "tax_id"):
        if r.get(field):
            text = ("Tax ID " if field == "tax_id" else "") + r[field]
            lines.append((text, field == "utility_name"))
    return lines


def receipt_time(r):
    """When, as printed: the station's local time (settings.for_print), else the ledger's UTC."""
    return r.get("local_time") or r["created_at"]


def receipt(console, r):
    kind = r["kind"]
    title = {"sale": "RECEIPT", "reversal": "REVERSAL", "config": "SIGNED CONFIG"}.get(
        kind, "TOKEN" if kind == "token" else kind.upper()
    )
    _receipt_header(console, r)
    when = receipt_time(r)
    rows = [("Receipt", r["receipt"]), ("Date", when), ("Meter", r["meter"])]
    rows.append(("Customer", r.get("customer")))
    if kind == "sale":
        rows += [
            ("Amount", r["amount"]),
            ("Channel", r["channel"]),
            ("Reference", r["ref"]),
            ("Debt recovered", r["debt_recovered"]),
            ("Standing charge", r["standing_charge"] if r["standing_charge_minor"] else None),
            ("From last purchase", r["carry_in"] if r["carry_in_minor"] else None),
            ("Credited now", r["prepayment"] if r["unit"] == "currency" else r["energy"]),
            ("Carried forward", r["carry_out"] if r["carry_out_minor"] else None),
            ("Units", r["units_text"]),
            ("Tariff", r["tariff"]),
            ("TID", r["tid"]),
            ("Meter config", r.get("config_counter")),
        ]
    elif kind == "reversal":
        rows += [
            ("Reverses", r["reverses"]),
            ("Amount", r["amount"]),
            ("Reason", r["reason"]),
            ("Supervisor", r["supervisor"]),
        ]
    elif kind == "token":
        rows += [("Type", r["token_type"]), ("Value", r.get("value_text")), ("TID", r.get("tid"))]
        rows += [("Key revision", r.get("new_revision"))]
    elif kind == "arrears":
        request = r.get("request", "arrears")
        if request != "arrears":
            rows += [(request.replace("-", " ").capitalize(), r.get("arrears"))]
        rows += [
            ("Arrears", r.get("amount")),
            ("Adjustment", r.get("adjustment")),
            ("Recovered so far", r.get("recovered")),
            ("Written off", r.get("written_off")),
            ("Credited to carry", r.get("to_carry")),
            ("Still owed", r.get("outstanding")),
            ("Note", r.get("note")),
            ("Reason", r.get("reason")),
            ("Supervisor", r.get("supervisor")),
        ]
    elif kind == "config":
        rows += [("Config counter", r["counter"]), ("New tariff", r.get("tariff_change"))]
        rows += [("Applied by meter", "yes" if r.get("request") == "config-applied" else None)]
        if "changes" in r:
            rows += [("Changes", "\n".join(r.get("changes") or []) or "none")]
    if r.get("format") == "sts":
        rows += [("Token format", f"STS EA{r['ea']:02d}" if "ea" in r else "STS")]
        rows += [("Key change", r.get("key_change"))]
    rows += [("Cashier", r.get("cashier")), ("REVERSED BY", r.get("reversed_by"))]
    rows += [("Copy logged as", r.get("copy_logged"))]
    console.print(kv_table(title, rows))
    if r.get("replayed"):
        console.print("[yellow]reference already used: this is the original receipt[/]")
    if "token_grouped" in r and r.get("format") != "sts":
        console.print(f"\n  [bold]TOKEN  {r['token_grouped']}[/]\n")
    if r.get("format") == "sts":
        _sts_tokens(console, r)
        return
    for i, digits in enumerate(r.get("tokens") or []):
        grouped = " ".join(digits[k : k + 4] for k in range(0, 20, 4))
        console.print(f"  [bold]KEY CHANGE {i + 1}/4  {grouped}[/]")
    if r.get("void_grouped"):
        console.print(f"\n  [bold]VOID TOKEN  {r['void_grouped']}[/]\n")
    if r.get("void_note"):
        console.print(r["void_note"])
    if r.get("blob"):
        console.print(r["blob"], soft_wrap=True)
    if r.get("config_blob"):
        console.print(
            f"New meter config {r['config_counter']} (enter with `prepay device config`):"
        )
        console.print(r["config_blob"], soft_wrap=True)


def _receipt_header(console, r):
    # The station's settings (prepay station settings) and, on a reprint, the COPY mark.
    for text, bold in header_lines(r):
        console.print(Text(text, style="bold" if bold else ""))  # "[" in a name is no markup
    if r.get("copy"):
        console.print("[bold]*** COPY - NOT AN ORIGINAL RECEIPT ***[/]")


def _grouped(digits):
    return " ".join(digits[k : k + 4] for k in range(0, 20, 4))


def _sts_tokens(console, r):
    """An STS receipt: the key change tokens first, in order, then the credit token."""
    kcts = r.get("kcts") or []
    if kcts:
        console.print("  Enter these tokens in this order:")
    for i, digits in enumerate(kcts):
        console.print(f"  [bold]{i + 1}. KEY CHANGE {i + 1}/{len(kcts)}  {_grouped(digits)}[/]")
    label = f"{len(kcts) + 1}. " if kcts else ""
    console.print(f"\n  [bold]{label}TOKEN  {_grouped(r['token'])}[/]\n")


def rows_table(title, rows):
    table = Table(title=title)
    for column in rows[0] if rows else ["(none)"]:
        table.add_column(column)
    for row in rows:
        table.add_row(*[str(v) for v in row.values()])
    return table


def tariffs(console, rows):
    table = Table(title="Tariffs")
    for column in ("name", "kind", "prices", "standing/month", "debt %", "debt cap"):
        table.add_column(column)
    for t in rows:
        table.add_row(
            t["name"],
            t["kind"],
            t["blocks_text"],
            t["standing_charge_text"],
            str(t["debt_percent"]),
            t["debt_cap_text"] or "-",
        )
    console.print(table)


def meters(console, rows):
    table = Table(title="Meters")
    for column in ("number", "unit", "scale", "tariff", "customer", "critical", "key rev"):
        table.add_column(column)
    for m in rows:
        flag = "yes" if m["critical"] else ""
        row = (m["number"], m["unit"], str(m["scale"]), m["tariff"], m["customer"], flag)
        table.add_row(*row, str(m["key_revision"]))
    console.print(table)


def day(console, d):
    title = f"Batch close {d['date']}" + (f" (cashier {d['cashier']})" if d["cashier"] else "")
    for label, rows in (("channel", d["channels"]), ("cashier", d["cashiers"])):
        table = Table(title=f"{title}: per {label}")
        for column in (label, "sales", "sold", "reversals", "reversed", "net"):
            table.add_column(column, justify="left" if column == label else "right")
        for name, row in rows.items():
            table.add_row(
                name, *[str(row[k]) for k in ("sales", "sold", "reversals", "reversed", "net")]
            )
        console.print(table)
    console.print(kv_table("Counts", d["counts"].items()))
    console.print(kv_table("Ledger movements", d["accounts"].items()))
    console.print(f"Net takings: [bold]{d['total_net']}[/]")
    if d["books_balance"]:
        console.print("[green]books balance[/]")
    else:
        console.print("[red]BOOKS DO NOT BALANCE:[/] " + "; ".join(d["problems"]))


def audit_result(console, r):
    if r["ok"]:
        console.print(f"[green]ledger intact[/]: {r['txns']} transactions verified")
    else:
        console.print("[red]LEDGER TAMPERED[/]")
        for line in r["problems"]:
            console.print("  " + line)


def meter(console, m):
    """`prepay meter show`: registry fields, then what is owed and carried."""
    rows = [(k, v) for k, v in m.items() if k not in ("arrears", "arrears_history")]
    rows += [(f"arrears {receipt}", owed) for receipt, owed in m["arrears"].items()]
    console.print(kv_table(f"Meter {m['number']}", rows))
    if m.get("arrears_history"):
        console.print(rows_table("Arrears raised", m["arrears_history"]))
