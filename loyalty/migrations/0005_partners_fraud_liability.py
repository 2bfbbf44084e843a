"""Partners' keys, the miles liability and fraud checks: the member's last login change, the window
after it, and who may see the liability or issue a partner's key."""

from django.contrib.auth.management import create_permissions
from django.db import migrations, models

# Granted on top of 0002's roles (tests/conftest.py re-applies ROLES after a flush).
ROLES = {
    "Supervisor": ["loyalty.view_liability", "loyalty.issue_partner_key"],
    "Analyst": ["loyalty.view_liability"],
    "Administrator": ["loyalty.view_liability", "loyalty.issue_partner_key"],
}


def grant(apps, schema_editor):
    app_config = apps.get_app_config("loyalty")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codes in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        codenames = [code.split(".")[1] for code in codes]
        group.permissions.add(*Permission.objects.filter(content_type__app_label="loyalty", codename__in=codenames))


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    for group in apps.get_model("auth", "Group").objects.all():
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="loyalty", codename__in=["view_liability", "issue_partner_key"])
        )


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0004_household_transfers_adjustments")]

    operations = [
        migrations.AlterModelOptions(
            name="partner",
            options={
                "ordering": ["name"],
                "permissions": [("issue_partner_key", "Can issue a partner's API key")],
                "verbose_name": "partner",
                "verbose_name_plural": "partners",
            },
        ),
        migrations.AlterModelOptions(
            name="programme",
            options={
                "permissions": [("view_liability", "Can see the miles liability")],
                "verbose_name": "programme",
                "verbose_name_plural": "programme",
            },
        ),
        migrations.AddField(
            model_name="member",
            name="login_change",
            field=models.CharField(blank=True, max_length=10, verbose_name="what changed"),
        ),
        migrations.AddField(
            model_name="member",
            name="login_changed_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="login last changed"),
        ),
        migrations.AddField(
            model_name="programme",
            name="fraud_login_change_hours",
            field=models.PositiveSmallIntegerField(
                default=72,
                help_text="A redemption for someone else this soon after the member's e-mail or password changed is flagged",
                verbose_name="flag awards for others within (hours) of a login change",
            ),
        ),
        migrations.RunPython(grant, revoke),
    ]
