"""On PostgreSQL a run's notification of a final status carries its answer:
``'<run id> <status> <event> <data>'``, its last ``values`` or ``error`` event as
``runs.wait`` and ``runs.join`` answer it (when its data has at most
``notifications.OUTPUT_BYTES``), so that a wait answers without reading it
again (``runtime/services/notifications.py``). A web process of the previous
release takes such a payload for an unknown kind and looks at the run."""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION oris_run_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    payload text;
    last record;
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('oris_runs', OLD.run_id::text);
    ELSIF TG_TABLE_NAME = 'runtime_run' THEN
        payload := NEW.run_id::text || ' ' || NEW.status;
        IF NEW.status IN ('success', 'error', 'timeout', 'interrupted') THEN
            SELECT event, data INTO last FROM runtime_runevent
             WHERE run_id = NEW.run_id AND event IN ('values', 'error')
             ORDER BY seq DESC LIMIT 1;
            IF FOUND AND octet_length(last.data) <= 7000 THEN
                payload := payload || ' ' || last.event || ' ' || last.data;
            END IF;
        END IF;
        PERFORM pg_notify('oris_runs', payload);
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
    ELSIF TG_TABLE_NAME = 'runtime_run' THEN
        PERFORM pg_notify('oris_runs', NEW.run_id::text || ' ' || NEW.status);
    ELSE
        PERFORM pg_notify('oris_runs', NEW.run_id::text || ' event');
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
    dependencies = [("runtime", "0020_run_notify_status")]

    operations = [migrations.RunPython(forward, backward)]
