"""Staff roles and the Passenger role as groups with their permissions."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

# Other apps add their permissions to these roles in their own migrations.
ROLES = {
    "Agent": [
        "crm.view_customer", "crm.add_customer", "crm.change_customer", "crm.view_identity_documents",
        "crm.view_consentevent", "crm.add_consentevent", "crm.view_timelineentry",
        "crm.view_lead", "crm.change_lead",
    ],
    "Supervisor": [
        "crm.view_customer", "crm.add_customer", "crm.change_customer", "crm.view_identity_documents",
        "crm.view_consentevent", "crm.add_consentevent", "crm.view_timelineentry",
        "crm.view_lead", "crm.add_lead", "crm.change_lead",
        "crm.merge_customer", "crm.view_customeraccess", "crm.view_customermerge",
    ],
    "Marketer": ["crm.view_customer", "crm.view_consentevent", "crm.view_lead", "crm.add_lead", "crm.change_lead"],
    "Analyst": ["crm.view_customer", "crm.view_lead"],
    "Administrator": "*",
    "Passenger": [],
}  # fmt: skip


def create_roles(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codes in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        if codes == "*":
            group.permissions.set(Permission.objects.filter(content_type__app_label="crm"))
            continue
        perms = []
        for code in codes:
            app_label, codename = code.split(".")
            perms.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
        group.permissions.set(perms)


class Migration(migrations.Migration):
    dependencies = [("crm", "0002_consent_append_only"), ("auth", "0012_alter_user_first_name_max_length")]
    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
