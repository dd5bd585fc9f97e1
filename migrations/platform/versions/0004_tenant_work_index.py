"""due-work index: platform.tenant_work and the work_index functions tenants write it through

Revision ID: 4c1d0e9a7b21
Revises: 78dee4122ccf
Create Date: 2026-11-30 21:40:00.000000

The periodic passes (relay sweep, automation tick) read ``platform.tenant_work`` instead of
visiting every tenant. Tenant transactions run as the tenant's role, which has no privilege on
``platform``; they write and clear their own rows only through two SECURITY DEFINER functions in
the schema ``work_index`` (see ``anima.events.due_work``). The functions resolve the tenant from
the transaction's current role and take no tenant argument.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import advanced_alchemy.types


# revision identifiers, used by Alembic.
revision: str = '4c1d0e9a7b21'
down_revision: Union[str, Sequence[str], None] = '78dee4122ccf'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

#: frozen at this revision: the two functions and the helper that names the caller's tenant
#: (one statement each: the driver runs one statement per call)
FUNCTIONS = ["""
CREATE SCHEMA IF NOT EXISTS work_index""", """
REVOKE ALL ON SCHEMA work_index FROM PUBLIC""", """
GRANT USAGE ON SCHEMA work_index TO PUBLIC""", """
CREATE OR REPLACE FUNCTION work_index.caller_tenant() RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  found bigint;
BEGIN
  SELECT t.id INTO found FROM platform.tenants t WHERE t.db_role = current_setting('role');
  IF found IS NULL THEN
    RAISE EXCEPTION 'due work is noted from inside a tenant transaction only' USING ERRCODE = '42501';
  END IF;
  RETURN found;
END $$""", """
REVOKE ALL ON FUNCTION work_index.caller_tenant() FROM PUBLIC""", """
CREATE OR REPLACE FUNCTION work_index.note(p_kind text, p_due timestamptz) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF p_due IS NULL THEN
    RETURN;
  END IF;
  INSERT INTO platform.tenant_work AS w (tenant_id, kind, due_at)
  VALUES (work_index.caller_tenant(), p_kind, p_due)
  ON CONFLICT (tenant_id, kind, xact) DO UPDATE SET due_at = LEAST(w.due_at, EXCLUDED.due_at);
END $$""", """
CREATE OR REPLACE FUNCTION work_index.take(p_kind text) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  taken integer;
BEGIN
  DELETE FROM platform.tenant_work w
   WHERE w.tenant_id = work_index.caller_tenant() AND w.kind = p_kind AND w.due_at <= now();
  GET DIAGNOSTICS taken = ROW_COUNT;
  RETURN taken;
END $$"""]


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('tenant_work',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('tenant_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('due_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('xact', sa.BigInteger(), server_default=sa.text('txid_current()'), nullable=False),
    sa.Column('claimed_until', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.CheckConstraint("kind IN ('relay','tick')", name=op.f('ck_tenant_work_kind_valid')),
    sa.ForeignKeyConstraint(['tenant_id'], ['platform.tenants.id'], name=op.f('fk_tenant_work_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tenant_work')),
    schema='platform'
    )
    op.create_index('ix_tenant_work_kind_due', 'tenant_work', ['kind', 'due_at'], unique=False, schema='platform')
    op.create_index('uq_tenant_work_tenant_kind_xact', 'tenant_work', ['tenant_id', 'kind', 'xact'], unique=True, schema='platform')
    op.create_index('uq_tenants_db_role', 'tenants', ['db_role'], unique=True, schema='platform')
    for statement in FUNCTIONS:
        op.execute(statement)
    # existing tenants may hold unrelayed events and pending delays: one pass visits each once
    op.execute(
        "INSERT INTO platform.tenant_work (tenant_id, kind, due_at, xact) "
        "SELECT t.id, k.kind, now(), 0 FROM platform.tenants t CROSS JOIN (VALUES ('relay'), ('tick')) AS k(kind) "
        "WHERE t.state = 'active'"
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.execute("DROP SCHEMA IF EXISTS work_index CASCADE")
    op.drop_index('uq_tenants_db_role', table_name='tenants', schema='platform')
    op.drop_index('uq_tenant_work_tenant_kind_xact', table_name='tenant_work', schema='platform')
    op.drop_index('ix_tenant_work_kind_due', table_name='tenant_work', schema='platform')
    op.drop_table('tenant_work', schema='platform')
