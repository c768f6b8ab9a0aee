"""Name the execution's compare-and-swap counter `revision` (a workflow version is something
else), and create the function the one-statement step recording raises through."""

from django.db import migrations

NOT_APPLIED = """
CREATE OR REPLACE FUNCTION workflows_not_applied(reason text) RETURNS integer
LANGUAGE plpgsql AS $$
BEGIN
    -- Undoes the whole statement that calls it; workflows.store reads the SQLSTATE.
    RAISE EXCEPTION 'step recording did not apply: %', reason USING ERRCODE = 'WF001';
END
$$;
"""


def create_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(NOT_APPLIED, params=None)  # the % is RAISE's, not a parameter


def drop_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS workflows_not_applied(text)")


class Migration(migrations.Migration):
    dependencies = [("workflows", "0002_plugins_integrations_triggers")]

    operations = [
        migrations.RenameField(model_name="execution", old_name="version", new_name="revision"),
        migrations.RunPython(create_function, drop_function),
    ]
