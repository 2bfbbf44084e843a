"""The staff roles' rights on campaigns: Marketers run them (and approve a colleague's large one),
Analysts read them and their results."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

MODELS = ("campaign", "campaignrun", "delivery", "suppression")
ROLES = {
    "Marketer": [
        *[f"marketing.{action}_campaign" for action in ("view", "add", "change", "delete")],
        "marketing.approve_campaign",
        "marketing.view_campaignrun", "marketing.view_delivery",
        "marketing.view_suppression", "marketing.add_suppression",
    ],
    "Analyst": [f"marketing.view_{model}" for model in MODELS],
    "Administrator": "*",
}  # fmt: skip


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
    codenames = [f"{action}_{model}" for model in MODELS for action in ("view", "add", "change", "delete")]
    for group in apps.get_model("auth", "Group").objects.all():
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="marketing", codename__in=[*codenames, "approve_campaign"])
        )


class Migration(migrations.Migration):
    dependencies = [("marketing", "0006_campaign_schedule_variants_tracking"), ("crm", "0003_roles")]
    operations = [migrations.RunPython(seed, unseed)]
