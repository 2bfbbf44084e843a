"""Marketers (and administrators) manage offers and issue their codes; no other role sees them."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

MARKETER = [
    f"marketing.{action}_{model}" for model in ("offer", "promocode") for action in ("view", "add", "change")
]
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
    for name, codes in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        codenames = [code.split(".")[1] for code in codes]
        group.permissions.add(*Permission.objects.filter(content_type__app_label="marketing", codename__in=codenames))


def unseed(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    own = Permission.objects.filter(content_type__app_label="marketing", content_type__model__in=["offer", "promocode"])
    for group in apps.get_model("auth", "Group").objects.all():
        group.permissions.remove(*own)


class Migration(migrations.Migration):
    dependencies = [("marketing", "0001_initial"), ("crm", "0003_roles")]

    operations = [migrations.RunPython(seed, unseed)]
