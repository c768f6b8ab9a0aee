"""Leave room in every page of the hot tables for updated rows (fillfactor), so an update
that changes no indexed column stays on its page (a HOT update, no index write): the
execution row is updated at every step (context, revision) without touching an index; and
drop the node runs' execution_id index, which the unique (execution, node_id) index makes
redundant."""

import django.db.models.deletion
from django.db import migrations, models

FILLFACTOR = {"workflows_execution": 70, "workflows_noderun": 80}


def set_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table, percent in FILLFACTOR.items():
            schema_editor.execute(f"ALTER TABLE {table} SET (fillfactor = {percent})")


def reset_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table in FILLFACTOR:
            schema_editor.execute(f"ALTER TABLE {table} RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("workflows", "0004_execution_retry_count")]

    operations = [
        migrations.AlterField(
            model_name="noderun",
            name="execution",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="node_runs",
                to="workflows.execution",
            ),
        ),
        migrations.RunPython(set_fillfactor, reset_fillfactor),
    ]
