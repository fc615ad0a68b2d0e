"""On PostgreSQL, ``NOTIFY oris_runs, '<run id>'`` when a run's status changes,
when it is deleted and when events of it are inserted; delivered on commit, it
wakes the web process's waits and streams (``runtime/services/notifications.py``).
SQLite has no NOTIFY: its waiters poll."""

from django.db import migrations

FORWARD = """
CREATE FUNCTION oris_run_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('oris_runs', OLD.run_id::text);
    ELSE
        PERFORM pg_notify('oris_runs', NEW.run_id::text);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER oris_run_status_notify
    AFTER UPDATE OF status ON runtime_run FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION oris_run_notify();
CREATE TRIGGER oris_run_delete_notify
    AFTER DELETE ON runtime_run FOR EACH ROW
    EXECUTE FUNCTION oris_run_notify();
CREATE TRIGGER oris_run_event_notify
    AFTER INSERT ON runtime_runevent FOR EACH ROW
    EXECUTE FUNCTION oris_run_notify();
"""
BACKWARD = """
DROP TRIGGER IF EXISTS oris_run_event_notify ON runtime_runevent;
DROP TRIGGER IF EXISTS oris_run_delete_notify ON runtime_run;
DROP TRIGGER IF EXISTS oris_run_status_notify ON runtime_run;
DROP FUNCTION IF EXISTS oris_run_notify();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("runtime", "0018_attempt_next_run")]

    operations = [migrations.RunPython(forward, backward)]
