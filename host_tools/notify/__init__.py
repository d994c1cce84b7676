"""Customer messages: an outbox written in the transaction of what it announces, a dispatcher
that sends each message at most once, the channels and the templates (docs/notify.md).

Modules (one concern each):
    outbox      enqueue(conn, ...): the outbox row, in the caller's transaction (dedupe key)
    events      what to announce: on_meter_event (head-end), monthly statements, debt reminders
    messages    an outbox row -> the text of each message (Jinja2 templates, en and zh)
    settings    the station's channel settings and quiet hours (station_meta, `notify set`)
    channels    email (SMTP), SMS (HTTP gateway), file (demo)
    dispatcher  fan-out, claim, send, mark; retries with backoff; parked messages

Uses host_tools.vending (its schema and registry); vending only writes the outbox row of a sale
through `outbox.sale_row` (one more row in the sale's one write statement).
"""
