"""Stored SessionInfo documents (issue 8, item 4), kept honest by triggers.

Each session gets a `SessionDocument` row, and every write that changes what its SessionInfo
shows bumps that row's `revision` in the same transaction, whoever writes: the triggers below sit
on every table the document reads (the session, its members, its events, and the names of its
account, endpoint and customers, whose tree also moves). A stored document counts only while it
was rendered at the current revision (`sessions_app.documents`), so none is ever served stale.

The triggers are statement-level (one UPDATE of the documents per statement, not per row: a bulk
insert of 5,000 events bumps each session once). Each bump is an UPDATE of the document's row,
so it takes that row's lock: a reader storing a document it rendered (a compare-and-set on the
revision it read, skipping locked rows) can never overwrite a change that committed, or is
committing, after it read. PostgreSQL only: the SQLite demo stores no documents.
"""

import django.db.models.deletion
from django.db import migrations, models

DOCUMENTS = "sessions_app_sessiondocument"
# Revisions come from one sequence: a revision number names one state of one session, never
# reused (not even after a rollback), so a process may cache documents by revision alone.
REVISIONS = "sessions_app_document_revision_seq"
NEXT = f"nextval('{REVISIONS}')"

TRIGGERS = f"""
CREATE SEQUENCE {REVISIONS};

-- A new session gets its document's row (nothing rendered yet).
CREATE FUNCTION sessions_app_document_create() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {DOCUMENTS} (session_id, revision)
    SELECT id, {NEXT} FROM new_rows
    ON CONFLICT (session_id) DO NOTHING;
    RETURN NULL;
END
$$;
CREATE TRIGGER session_document_create
    AFTER INSERT ON sessions_app_callsession
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sessions_app_document_create();

-- Any change to a session's row (an UPDATE that writes the same values changes nothing).
CREATE FUNCTION sessions_app_document_session_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE {DOCUMENTS} AS d SET revision = {NEXT}
    FROM new_rows AS n JOIN old_rows AS o ON o.id = n.id
    WHERE d.session_id = n.id AND ROW(n.*) IS DISTINCT FROM ROW(o.*);
    RETURN NULL;
END
$$;
CREATE TRIGGER session_document_session_changed
    AFTER UPDATE ON sessions_app_callsession
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sessions_app_document_session_changed();

-- Rows that belong to a session (members, events) inserted, updated (even moved to another
-- session: both sessions) or deleted.
CREATE FUNCTION sessions_app_document_part_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE {DOCUMENTS} SET revision = {NEXT}
        WHERE session_id IN (SELECT session_id FROM new_rows);
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE {DOCUMENTS} SET revision = {NEXT}
        WHERE session_id IN (SELECT session_id FROM old_rows);
    ELSE
        UPDATE {DOCUMENTS} SET revision = {NEXT}
        WHERE session_id IN (
            SELECT session_id FROM new_rows UNION SELECT session_id FROM old_rows
        );
    END IF;
    RETURN NULL;
END
$$;

-- A renamed account or endpoint: the sessions that show its name.
CREATE FUNCTION sessions_app_document_name_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_ARGV[0] = 'account' THEN
        UPDATE {DOCUMENTS} AS d SET revision = {NEXT}
        FROM sessions_app_callsession AS s
        WHERE d.session_id = s.id AND s.account_id IN (
            SELECT n.id FROM new_rows AS n JOIN old_rows AS o ON o.id = n.id
            WHERE n.name IS DISTINCT FROM o.name
        );
    ELSE
        UPDATE {DOCUMENTS} AS d SET revision = {NEXT}
        FROM sessions_app_callsession AS s
        WHERE d.session_id = s.id AND s.endpoint_id IN (
            SELECT n.id FROM new_rows AS n JOIN old_rows AS o ON o.id = n.id
            WHERE n.name IS DISTINCT FROM o.name
        );
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER session_document_account_renamed
    AFTER UPDATE ON sessions_app_account
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sessions_app_document_name_changed('account');
CREATE TRIGGER session_document_endpoint_renamed
    AFTER UPDATE ON sessions_app_endpoint
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sessions_app_document_name_changed('endpoint');

-- A renamed or moved customer: the sessions of it and of every customer below it (their
-- breadcrumbs show its name; a move rewrites the paths of the whole subtree, each a changed row).
CREATE FUNCTION sessions_app_document_customer_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE {DOCUMENTS} AS d SET revision = {NEXT}
    FROM sessions_app_callsession AS s
    WHERE d.session_id = s.id AND s.customer_id IN (
        SELECT below.id
        FROM new_rows AS n
        JOIN old_rows AS o ON o.id = n.id
        JOIN sessions_app_customer AS below ON starts_with(below.path, n.path)
        WHERE n.name IS DISTINCT FROM o.name OR n.path IS DISTINCT FROM o.path
    );
    RETURN NULL;
END
$$;
CREATE TRIGGER session_document_customer_changed
    AFTER UPDATE ON sessions_app_customer
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sessions_app_document_customer_changed();
"""

# The same function on both tables, one trigger per operation (a trigger with transition
# tables may only fire on one).
PARTS = {"member": "sessions_app_sessionmember", "event": "sessions_app_sessionevent"}
for name, table in PARTS.items():
    TRIGGERS += f"""
CREATE TRIGGER session_document_{name}_inserted
    AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sessions_app_document_part_changed();
CREATE TRIGGER session_document_{name}_updated
    AFTER UPDATE ON {table} REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sessions_app_document_part_changed();
CREATE TRIGGER session_document_{name}_deleted
    AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sessions_app_document_part_changed();
"""

# Every session there is gets its row; lz4 (where PostgreSQL has it) decompresses documents
# about twice as fast as the default pglz when a list reads hundreds of them.
TRIGGERS += f"""
INSERT INTO {DOCUMENTS} (session_id, revision)
SELECT id, {NEXT} FROM sessions_app_callsession
ON CONFLICT (session_id) DO NOTHING;
DO $$
BEGIN
    ALTER TABLE {DOCUMENTS} ALTER COLUMN json SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    RAISE NOTICE 'no lz4 in this PostgreSQL: documents keep the default compression';
END
$$;
"""

DROP_TRIGGERS = """
DROP TRIGGER IF EXISTS session_document_create ON sessions_app_callsession;
DROP TRIGGER IF EXISTS session_document_session_changed ON sessions_app_callsession;
DROP TRIGGER IF EXISTS session_document_account_renamed ON sessions_app_account;
DROP TRIGGER IF EXISTS session_document_endpoint_renamed ON sessions_app_endpoint;
DROP TRIGGER IF EXISTS session_document_customer_changed ON sessions_app_customer;
""" + "".join(
    f"DROP TRIGGER IF EXISTS session_document_{name}_{op} ON {table};\n"
    for name, table in PARTS.items()
    for op in ("inserted", "updated", "deleted")
) + """
DROP FUNCTION IF EXISTS sessions_app_document_create();
DROP FUNCTION IF EXISTS sessions_app_document_session_changed();
DROP FUNCTION IF EXISTS sessions_app_document_part_changed();
DROP FUNCTION IF EXISTS sessions_app_document_name_changed();
DROP FUNCTION IF EXISTS sessions_app_document_customer_changed();
DROP SEQUENCE IF EXISTS sessions_app_document_revision_seq;
"""


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGERS, params=None)


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_TRIGGERS, params=None)


class Migration(migrations.Migration):

    # 0009 is taken on another branch: renumbered and rechained when merged.
    dependencies = [
        ('sessions_app', '0012_session_controls'),
    ]

    operations = [
        migrations.CreateModel(
            name='SessionDocument',
            fields=[
                ('session', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='document', serialize=False, to='sessions_app.callsession')),
                ('revision', models.PositiveBigIntegerField(default=0)),
                ('rendered_revision', models.PositiveBigIntegerField(blank=True, null=True)),
                ('json', models.TextField(blank=True, null=True)),
                ('etag', models.CharField(blank=True, max_length=64, null=True)),
            ],
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
