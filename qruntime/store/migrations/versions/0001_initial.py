"""The initial schema: users and tokens, instances, programs, jobs and their output.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A migration keeps its own copy of the column types: later changes to the models must not
# change what an old revision creates.
_TIMESTAMP = sa.DateTime(timezone=True)


def _fk(
    table: str, column: str, target: str, ondelete: str | None = None
) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created", _TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("name", name="uq_users_name"),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("created", _TIMESTAMP, nullable=False),
        sa.Column("revoked", _TIMESTAMP, nullable=True),
        _fk("api_tokens", "user_id", "users", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"])
    op.create_table(
        "access_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created", _TIMESTAMP, nullable=False),
        sa.Column("expires_at", _TIMESTAMP, nullable=False),
        sa.Column("revoked", _TIMESTAMP, nullable=True),
        _fk("access_tokens", "user_id", "users", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_access_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_access_tokens_token_hash"),
    )
    op.create_index("ix_access_tokens_user_id", "access_tokens", ["user_id"])
    op.create_index("ix_access_tokens_expires_at", "access_tokens", ["expires_at"])

    op.create_table(
        "instances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hub", sa.String(100), nullable=False),
        sa.Column("group", sa.String(100), nullable=False),
        sa.Column("project", sa.String(100), nullable=False),
        sa.Column("plan", sa.String(16), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("max_queued", sa.Integer(), nullable=True),
        sa.Column("max_running", sa.Integer(), nullable=True),
        sa.CheckConstraint("plan IN ('open', 'premium')", name="ck_instances_plan"),
        sa.CheckConstraint("weight > 0", name="ck_instances_weight_positive"),
        sa.PrimaryKeyConstraint("id", name="pk_instances"),
        sa.UniqueConstraint("hub", "group", "project", name="uq_instances_hub_group_project"),
    )
    op.create_table(
        "memberships",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        _fk("memberships", "user_id", "users", ondelete="CASCADE"),
        _fk("memberships", "instance_id", "instances", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "instance_id", name="pk_memberships"),
    )
    op.create_index("ix_memberships_instance_id", "memberships", ["instance_id"])

    op.create_table(
        "programs",
        sa.Column("id", sa.String(100), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("max_execution_time", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("is_public", sa.Boolean(), nullable=False),
        sa.Column("created", _TIMESTAMP, nullable=False),
        sa.Column("updated", _TIMESTAMP, nullable=False),
        _fk("programs", "owner_id", "users"),
        sa.PrimaryKeyConstraint("id", name="pk_programs"),
    )
    op.create_index("ix_programs_owner_id", "programs", ["owner_id"])

    op.create_table(
        "jobs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("program_id", sa.String(100), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("backend", sa.String(100), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created", _TIMESTAMP, nullable=False),
        sa.Column("started", _TIMESTAMP, nullable=True),
        sa.Column("finished", _TIMESTAMP, nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("log_level", sa.String(16), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("session_id", sa.String(32), nullable=True),
        sa.Column("max_execution_time", sa.Integer(), nullable=True),
        sa.Column("interim_count", sa.Integer(), nullable=False),
        sa.Column("log_chunks", sa.Integer(), nullable=False),
        sa.Column("log_bytes", sa.Integer(), nullable=False),
        sa.Column("log_truncated", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "status IN ('QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED')",
            name="ck_jobs_status",
        ),
        _fk("jobs", "instance_id", "instances"),
        _fk("jobs", "owner_id", "users"),
        sa.PrimaryKeyConstraint("id", name="pk_jobs"),
    )
    op.create_index("ix_jobs_program_id", "jobs", ["program_id"])
    op.create_index("ix_jobs_session_id", "jobs", ["session_id"])
    op.create_index("ix_jobs_status_created", "jobs", ["status", "created"])
    op.create_index("ix_jobs_instance_id_status", "jobs", ["instance_id", "status"])
    op.create_index("ix_jobs_instance_id_created", "jobs", ["instance_id", "created"])
    op.create_index("ix_jobs_owner_id_created", "jobs", ["owner_id", "created"])

    op.create_table(
        "job_tags",
        sa.Column("job_id", sa.String(32), nullable=False),
        sa.Column("tag", sa.String(200), nullable=False),
        _fk("job_tags", "job_id", "jobs", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("job_id", "tag", name="pk_job_tags"),
    )
    op.create_index("ix_job_tags_tag", "job_tags", ["tag"])
    op.create_table(
        "interim_results",
        sa.Column("job_id", sa.String(32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created", _TIMESTAMP, nullable=False),
        _fk("interim_results", "job_id", "jobs", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("job_id", "seq", name="pk_interim_results"),
    )
    op.create_table(
        "job_log_chunks",
        sa.Column("job_id", sa.String(32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        _fk("job_log_chunks", "job_id", "jobs", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("job_id", "seq", name="pk_job_log_chunks"),
    )


def downgrade() -> None:
    for table in (
        "job_log_chunks",
        "interim_results",
        "job_tags",
        "jobs",
        "programs",
        "memberships",
        "instances",
        "access_tokens",
        "api_tokens",
        "users",
    ):
        op.drop_table(table)
