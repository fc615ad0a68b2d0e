"""The console's issue-16 changes: interrupts can be dismissed, and operators
may start runs from the console (as their API role may)."""

from __future__ import annotations

from django.db import migrations, models

OPERATOR = "oris-operator"
OPERATOR_ADDED = {"add_job"}


def grant_operator(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.filter(name=OPERATOR).first()
    if group is not None:
        added = Permission.objects.filter(
            content_type__app_label="runtime", codename__in=OPERATOR_ADDED
        )
        group.permissions.add(*added)


def revoke_operator(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.filter(name=OPERATOR).first()
    if group is not None:
        removed = Permission.objects.filter(
            content_type__app_label="runtime", codename__in=OPERATOR_ADDED
        )
        group.permissions.remove(*removed)


class Migration(migrations.Migration):
    dependencies = [
        ("runtime", "0008_worker_cluster"),
    ]

    operations = [
        migrations.AlterField(
            model_name="interrupt",
            name="status",
            field=models.CharField(
                choices=[
                    ("pending", "Pending"),
                    ("resumed", "Resumed"),
                    ("rejected", "Rejected"),
                    ("cancelled", "Cancelled"),
                    ("dismissed", "Dismissed"),
                ],
                default="pending",
                max_length=16,
            ),
        ),
        migrations.RunPython(grant_operator, revoke_operator),
    ]
