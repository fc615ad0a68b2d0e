"""The console's Django groups: ``oris-admin`` and ``oris-operator``.

Permissions are created by a post_migrate signal, which has not run yet on a fresh
database, so this migration creates them first.
"""

from __future__ import annotations

from django.contrib.auth.management import create_permissions
from django.db import migrations

ADMIN = "oris-admin"
OPERATOR = "oris-operator"

# Everything on the runtime's models, except deleting the audit trail.
ADMIN_EXCLUDED = {"delete_auditlog"}

# Interrupts, dead letters and runs (answer, replay, cancel); the rest read-only.
# Not API keys.
OPERATOR_CODENAMES = {
    "view_job",
    "change_job",
    "view_attempt",
    "view_interrupt",
    "change_interrupt",
    "view_deadletter",
    "change_deadletter",
    "view_retryhistory",
    "view_stepreport",
    "view_checkpoint",
    "view_auditlog",
}


def create_groups(apps, schema_editor):
    for app_config in apps.get_app_configs():
        models_module = getattr(app_config, "models_module", None)
        app_config.models_module = models_module or True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = models_module
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    runtime = Permission.objects.filter(content_type__app_label="runtime")
    admin, _ = Group.objects.get_or_create(name=ADMIN)
    admin.permissions.set(runtime.exclude(codename__in=ADMIN_EXCLUDED))
    operator, _ = Group.objects.get_or_create(name=OPERATOR)
    operator.permissions.set(runtime.filter(codename__in=OPERATOR_CODENAMES))


def remove_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.filter(name__in=[ADMIN, OPERATOR]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("runtime", "0002_reaper_schedule"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
