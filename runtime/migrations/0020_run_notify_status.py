"""On PostgreSQL the run notifications say what changed: ``'<run id> <status>'``
when a run's status changes, ``'<run id> event'`` when events of it are inserted,
``'<run id>'`` when it is deleted; a ``runs.wait`` then looks at its run only when
it is over (``runtime/services/notifications.py``), not at each of its events."""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION oris_run_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('oris_runs', OLD.run_id::text);
    ELSIF TG_TABLE_NAME = 'runtime_run' THEN
        PERFORM pg_notify('oris_runs', NEW.run_id::text || ' ' || NEW.status);
    ELSE
        PERFORM pg_notify('oris_runs', NEW.run_id::text || ' event');
    END IF;
    RETURN NULL;
END $$;
"""
BACKWARD = """
CREATE OR REPLACE FUNCTION oris_run_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('oris_runs', OLD.run_id::text);
    ELSE
        PERFORM pg_notify('oris_runs', NEW.run_id::text);
    END IF;
    RETURN NULL;
END $$;
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("runtime", "0019_run_notify")]

    operations = [migrations.RunPython(forward, backward)]
