"""Worker heartbeats (the workers page, the home page's workers alive), and the index the home
page's counts of one tenant's executions by status read."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("workflows", "0005_noderun_indexes_fillfactor"),
    ]

    operations = [
        migrations.CreateModel(
            name="WorkerProcess",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=100, unique=True)),
                ("host", models.CharField(max_length=255)),
                ("pid", models.PositiveIntegerField()),
                ("version", models.CharField(blank=True, default="", max_length=50)),
                ("embedded", models.BooleanField(default=False)),
                ("concurrency", models.PositiveIntegerField()),
                ("steps_in_flight", models.PositiveIntegerField(default=0)),
                ("steps_done", models.PositiveBigIntegerField(default=0)),
                ("started_at", models.DateTimeField()),
                ("last_heartbeat_at", models.DateTimeField()),
                ("stopped_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={
                "ordering": ["-started_at"],
            },
        ),
        migrations.AddIndex(
            model_name="execution",
            index=models.Index(
                condition=models.Q(("is_test", False)),
                fields=["tenant", "status", "finished_at"],
                name="execution_tenant_status_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="workerprocess",
            index=models.Index(fields=["last_heartbeat_at"], name="workerprocess_heartbeat_idx"),
        ),
    ]
