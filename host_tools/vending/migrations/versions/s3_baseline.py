"""Schema 3, the oldest schema `prepay station upgrade` starts from: txns sealed under a random
id, meters.version, entries keyed by (txn_id, line). Nothing to do: it is the starting point."""

revision = "s3"
down_revision = None


def upgrade():
    pass
