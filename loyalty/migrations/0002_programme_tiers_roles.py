"""The programme's settings row, its four tiers, the append-only ledger and the staff roles' rights."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

TIERS = [
    # code, name, rank, qualifying miles, segments, bonus %, extra bags, lounge, priority, case hours, colour
    ("blue", "Blue", 0, 0, 0, 0, 0, False, False, 48, "#1f4e79"),
    ("silver", "Silver", 1, 25000, 30, 25, 1, False, True, 24, "#8a949c"),
    ("gold", "Gold", 2, 50000, 60, 50, 1, True, True, 12, "#b8860b"),
    ("platinum", "Platinum", 3, 100000, 100, 100, 2, True, True, 4, "#3b3b3b"),
]

AGENT = [
    "loyalty.view_programme", "loyalty.view_tier", "loyalty.view_member", "loyalty.add_member", "loyalty.view_milesentry", "loyalty.view_adjustment", "loyalty.add_adjustment",
    "loyalty.view_statusmatch", "loyalty.add_statusmatch", "loyalty.view_retroclaim", "loyalty.view_household", "loyalty.view_partner", "loyalty.adjust_miles",
]
SUPERVISOR = [*AGENT, "loyalty.approve_loyalty", "loyalty.change_adjustment", "loyalty.change_statusmatch", "loyalty.view_fraudflag", "loyalty.change_fraudflag"]
ROLES = {
    "Agent": AGENT,
    "Supervisor": SUPERVISOR,
    "Marketer": ["loyalty.view_programme", "loyalty.view_tier", "loyalty.view_member"],
    "Analyst": ["loyalty.view_programme", "loyalty.view_tier", "loyalty.view_member", "loyalty.view_milesentry", "loyalty.view_partner"],
    "Administrator": "*",
}  # fmt: skip

APPEND_ONLY = """
CREATE OR REPLACE FUNCTION loyalty_ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the miles ledger is append-only: post a reversal entry instead';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER loyalty_ledger_append_only
BEFORE UPDATE OR DELETE ON loyalty_milesentry
FOR EACH ROW EXECUTE FUNCTION loyalty_ledger_append_only();
"""
ALLOW = """
DROP TRIGGER IF EXISTS loyalty_ledger_append_only ON loyalty_milesentry;
DROP FUNCTION IF EXISTS loyalty_ledger_append_only();
"""


def seed_reference(apps) -> None:
    """The settings row and the tiers (also called by the tests after a flush empties them)."""
    apps.get_model("loyalty", "Programme").objects.get_or_create(pk=1)
    Tier = apps.get_model("loyalty", "Tier")
    for code, name, rank, miles, segments, bonus, bags, lounge, priority, hours, colour in TIERS:
        Tier.objects.get_or_create(
            code=code,
            defaults={
                "name": name, "rank": rank, "qualifying_miles": miles, "qualifying_segments": segments,
                "bonus_percent": bonus, "extra_bags": bags, "lounge_access": lounge, "priority_boarding": priority,
                "service_level_hours": hours, "colour": colour,
            },
        )  # fmt: skip


def seed(apps, schema_editor):
    seed_reference(apps)
    app_config = apps.get_app_config("loyalty")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    own = apps.get_model("auth", "Permission").objects.filter(content_type__app_label="loyalty")
    for name, codes in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        codenames = None if codes == "*" else [code.split(".")[1] for code in codes]
        group.permissions.add(*(own if codenames is None else own.filter(codename__in=codenames)))


def unseed(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    for group in apps.get_model("auth", "Group").objects.all():
        group.permissions.remove(*Permission.objects.filter(content_type__app_label="loyalty"))


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0001_initial"), ("crm", "0003_roles")]
    operations = [migrations.RunPython(seed, unseed), migrations.RunSQL(APPEND_ONLY, ALLOW)]
