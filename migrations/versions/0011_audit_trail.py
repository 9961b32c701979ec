"""audit trail: append-only, hash-chained entries for operator actions and money movements

The database itself keeps the trail honest: a trigger numbers and chains every new entry under
one lock (so the chain follows the order entries commit in), and another refuses UPDATE and
DELETE. `gamehub audit verify` recomputes the chain with the same function.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# One key for pg_advisory_xact_lock: appending to the trail is one entry at a time.
AUDIT_LOCK_KEY = 7_468_001


def upgrade() -> None:
    op.execute("CREATE SEQUENCE audit_log_id_seq")
    op.execute(
        """
        CREATE TABLE audit_log (
            id bigint NOT NULL,
            at timestamptz NOT NULL,
            actor varchar(64) NOT NULL,
            action varchar(64) NOT NULL,
            subject varchar(128) NOT NULL,
            details jsonb NOT NULL,
            address varchar(64),
            transfer_id bigint,
            prev_hash char(64) NOT NULL,
            hash char(64) NOT NULL,
            CONSTRAINT pk_audit_log PRIMARY KEY (id),
            CONSTRAINT uq_audit_log_transfer_id UNIQUE (transfer_id)
        )
        """
    )
    op.execute("ALTER SEQUENCE audit_log_id_seq OWNED BY audit_log.id")
    # What an entry's hash covers, written once for the trigger and for verification. The
    # time is spelled out in UTC so that the session's TimeZone cannot change the text.
    op.execute(
        """
        CREATE FUNCTION gamehub_audit_hash(
            prev_hash text, id bigint, at timestamptz, actor text, action text, subject text,
            details jsonb, address text, transfer_id bigint
        ) RETURNS text LANGUAGE sql STABLE AS $$
            SELECT encode(sha256(convert_to(jsonb_build_array(
                prev_hash, id,
                to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                actor, action, subject, details, address, transfer_id
            )::text, 'UTF8')), 'hex')
        $$
        """
    )
    op.execute(
        f"""
        CREATE FUNCTION gamehub_audit_chain() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            -- Held to the end of the transaction: the next entry is chained to this one only
            -- once it has committed, and ids follow the order of the chain.
            PERFORM pg_advisory_xact_lock({AUDIT_LOCK_KEY});
            NEW.id := nextval('audit_log_id_seq');
            NEW.at := clock_timestamp();
            NEW.prev_hash := coalesce(
                (SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1), repeat('0', 64));
            NEW.hash := gamehub_audit_hash(
                NEW.prev_hash, NEW.id, NEW.at, NEW.actor, NEW.action, NEW.subject,
                NEW.details, NEW.address, NEW.transfer_id);
            RETURN NEW;
        END
        $$
        """  # noqa: S608  # a constant of this file, no input
    )
    op.execute(
        """
        CREATE FUNCTION gamehub_audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'the audit trail is append-only: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION gamehub_audit_chain()"
    )
    op.execute(
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION gamehub_audit_refuse_change()"
    )


def downgrade() -> None:
    op.execute("DROP TABLE audit_log")
    op.execute("DROP FUNCTION gamehub_audit_refuse_change()")
    op.execute("DROP FUNCTION gamehub_audit_chain()")
    op.execute(
        "DROP FUNCTION gamehub_audit_hash(text, bigint, timestamptz, text, text, text, jsonb, text, bigint)"
    )
