"""The log table goes (its rows are events now, 0003) and the invariants become constraints."""

import django.db.models.functions.text
from django.db import migrations, models

# A CHECK cannot read another row, so "a customer's path is its parent's path plus its own id,
# in the same account" is a constraint trigger, checked at commit (deferred: a move rewrites a
# whole subtree in one statement, which passes through inconsistent rows). PostgreSQL only; the
# SQLite demo relies on `services.customer_move` alone.
CUSTOMER_PATH_TRIGGER = """
CREATE FUNCTION sessions_app_customer_path_follows_parent() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    me sessions_app_customer%ROWTYPE;
    parent sessions_app_customer%ROWTYPE;
BEGIN
    -- Deferred: check the row as it is at commit, not as this event saw it.
    SELECT * INTO me FROM sessions_app_customer WHERE id = NEW.id;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF me.parent_id IS NULL THEN
        IF me.path <> '/' || me.id || '/' THEN
            RAISE EXCEPTION 'customer % is at the top but its path is %', me.id, me.path
                USING ERRCODE = 'check_violation', CONSTRAINT = 'customer_path_follows_parent';
        END IF;
    ELSE
        SELECT * INTO parent FROM sessions_app_customer WHERE id = me.parent_id;
        IF me.path <> parent.path || me.id || '/' OR parent.account_id <> me.account_id THEN
            RAISE EXCEPTION 'customer % (path %) does not follow its parent % (path %)',
                me.id, me.path, parent.id, parent.path
                USING ERRCODE = 'check_violation', CONSTRAINT = 'customer_path_follows_parent';
        END IF;
    END IF;
    IF EXISTS (
        SELECT 1 FROM sessions_app_customer child
        WHERE child.parent_id = me.id AND child.path <> me.path || child.id || '/'
    ) THEN
        RAISE EXCEPTION 'the sub-customers of % do not follow its path %', me.id, me.path
            USING ERRCODE = 'check_violation', CONSTRAINT = 'customer_path_follows_parent';
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER customer_path_follows_parent
    AFTER INSERT OR UPDATE OF path, parent_id, account_id ON sessions_app_customer
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION sessions_app_customer_path_follows_parent();
"""
DROP_CUSTOMER_PATH_TRIGGER = """
DROP TRIGGER IF EXISTS customer_path_follows_parent ON sessions_app_customer;
DROP FUNCTION IF EXISTS sessions_app_customer_path_follows_parent();
"""


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CUSTOMER_PATH_TRIGGER, params=None)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_CUSTOMER_PATH_TRIGGER, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('sessions_app', '0003_log_to_events'),
    ]

    operations = [
        migrations.RemoveField(
            model_name='sessionlogentry',
            name='actor',
        ),
        migrations.RemoveField(
            model_name='sessionlogentry',
            name='session',
        ),
        migrations.AddConstraint(
            model_name='callsession',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('call_state', 'Disconnected'), ('ended', True)), models.Q(('ended', False), models.Q(('call_state', 'Disconnected'), _negated=True)), _connector='OR'), name='session_ended_iff_disconnected'),
        ),
        migrations.AddConstraint(
            model_name='callsession',
            constraint=models.CheckConstraint(condition=models.Q(('ended', False), models.Q(('date_completed__isnull', False), ('held_at__isnull', True), ('held_by_user_id__isnull', True), ('hold_queue_name__isnull', True), ('hold_reason', 'None')), _connector='OR'), name='session_ended_clears_hold'),
        ),
        migrations.AddConstraint(
            model_name='customer',
            constraint=models.CheckConstraint(condition=models.Q(('path__endswith', django.db.models.functions.text.Concat(models.Value('/'), 'id', models.Value('/')))), name='customer_path_ends_with_id'),
        ),
        migrations.AddConstraint(
            model_name='sessionmember',
            constraint=models.UniqueConstraint(condition=models.Q(('call_sid__isnull', False)), fields=('session', 'call_sid'), name='member_call_sid_once_per_session'),
        ),
        migrations.DeleteModel(
            name='SessionLogEntry',
        ),
        migrations.RunPython(create_trigger, drop_trigger),
    ]
