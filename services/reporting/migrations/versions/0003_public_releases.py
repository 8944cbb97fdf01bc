"""The public releases: what each publication round showed, kept to suppress later ones against.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A database that create_all made with these models (adopted at 0002) has the table already.
    if "public_releases" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table("public_releases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("inner", sa.JSON(), nullable=False),
        sa.Column("shown", sa.JSON(), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("summaries", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id")
    )
    op.create_index("ix_public_releases_city", "public_releases", ["city"])


def downgrade() -> None:
    op.drop_index("ix_public_releases_city", table_name="public_releases")
    op.drop_table("public_releases")
