"""The staff roles' rights on marketing: Marketers build segments and lists, Analysts read them."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

MODELS = ("segment", "staticlist", "staticlistmember")
ROLES = {
    "Marketer": [f"marketing.{action}_{model}" for model in MODELS for action in ("view", "add", "change", "delete")],
    "Analyst": [f"marketing.view_{model}" for model in MODELS],
    "Administrator": "*",
}


def seed(apps, schema_editor):
    app_config = apps.get_app_config("marketing")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    own = apps.get_model("auth", "Permission").objects.filter(content_type__app_label="marketing")
    for name, codes in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        codenames = None if codes == "*" else [code.split(".")[1] for code in codes]
        group.permissions.add(*(own if codenames is None else own.filter(codename__in=codenames)))


def unseed(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    for group in apps.get_model("auth", "Group").objects.all():
        group.permissions.remove(*Permission.objects.filter(content_type__app_label="marketing"))


class Migration(migrations.Migration):
    dependencies = [("marketing", "0003_segments_and_lists"), ("crm", "0003_roles")]
    operations = [migrations.RunPython(seed, unseed)]
