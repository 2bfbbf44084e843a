"""Marketers (and administrators) manage offers and issue their codes; no other role sees them."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

MARKETER = ["view_offer", "add_offer", "change_offer", "view_promocode", "add_promocode", "change_promocode"]
ROLES = {
    "Marketer": MARKETER,
    "Administrator": MARKETER,
}


def seed(apps, schema_editor):
    app_config = apps.get_app_config("marketing")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(
            *Permission.objects.filter(content_type__app_label="marketing", codename__in=codenames)
        )


def unseed(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    own = Permission.objects.filter(content_type__app_label="marketing", content_type__model__in=["offer", "promocode"])
    for group in apps.get_model("auth", "Group").objects.all():
        group.permissions.remove(*own)


class Migration(migrations.Migration):
    dependencies = [("marketing", "0001_initial"), ("crm", "0003_roles")]

    operations = [migrations.RunPython(seed, unseed)]
