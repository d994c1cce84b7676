"""Schema 4: the station as a web app — users, sessions, login throttling, API keys, day closes,
cash-ups.

Tables as they were at schema 4 (written out here, not imported from db.py, so later changes to
db.py do not change what this step does)."""

import sqlalchemy as sa
from alembic import op

revision = "s4"
down_revision = "s3"


def upgrade():
    op.create_table(
        "users",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
    )
    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.Text, primary_key=True),
        sa.Column("user_name", sa.Text, sa.ForeignKey("users.name"), nullable=False),
        sa.Column("csrf", sa.Text, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("expires_at", sa.Text, nullable=False),
    )
    op.create_table(
        "login_failures",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("first_at", sa.Text, nullable=False),
        sa.Column("locked_until", sa.Text),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("channel", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("secret_hash", sa.Text, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("revoked_at", sa.Text),
    )
    op.create_table(
        "day_closes",
        sa.Column("local_date", sa.Text, primary_key=True),
        sa.Column("closed_by", sa.Text, nullable=False),
        sa.Column("closed_at", sa.Text, nullable=False),
        sa.Column("last_seq", sa.BigInteger, nullable=False),
        sa.Column("totals", sa.Text, nullable=False),
    )
    op.create_table(
        "cashups",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("cashier", sa.Text, nullable=False),
        sa.Column("local_date", sa.Text, nullable=False),
        sa.Column("made_at", sa.Text, nullable=False),
        sa.Column("expected", sa.BigInteger, nullable=False),
        sa.Column("counted", sa.BigInteger, nullable=False),
        sa.Column("difference", sa.BigInteger, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
    )
