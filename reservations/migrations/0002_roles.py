"""Reservations permissions for the staff roles."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

AGENT = [
    "reservations.view_airport", "reservations.view_aircrafttype", "reservations.view_route", "reservations.view_flight", "reservations.view_flightcabin", "reservations.view_farefamily",
    "reservations.view_bookingclass", "reservations.view_booking", "reservations.add_booking", "reservations.change_booking", "reservations.view_bookingpassenger",
    "reservations.change_bookingpassenger", "reservations.view_segment", "reservations.view_payment", "reservations.add_payment", "reservations.view_refund", "reservations.add_refund",
    "reservations.view_ticket", "reservations.view_coupon", "reservations.view_checkin", "reservations.add_checkin", "reservations.view_seatassignment", "reservations.add_seatassignment",
    "reservations.view_travelvoucher",
]
SUPERVISOR = [*AGENT, "reservations.waive_fees", "reservations.change_flight", "reservations.add_travelvoucher"]
ROLES = {
    "Agent": AGENT,
    "Supervisor": SUPERVISOR,
    "Marketer": ["reservations.view_airport", "reservations.view_route", "reservations.view_flight", "reservations.view_farefamily"],
    "Analyst": ["reservations.view_airport", "reservations.view_route", "reservations.view_flight", "reservations.view_flightcabin", "reservations.view_farefamily", "reservations.view_booking", "reservations.view_segment"],
    "Administrator": "*",
}  # fmt: skip


def grant(apps, schema_editor):
    app_config = apps.get_app_config("reservations")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    own = Permission.objects.filter(content_type__app_label="reservations")
    for name, codes in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        codenames = [code.split(".")[1] for code in codes] if codes != "*" else None
        group.permissions.add(*(own if codenames is None else own.filter(codename__in=codenames)))


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    for group in apps.get_model("auth", "Group").objects.all():
        group.permissions.remove(*Permission.objects.filter(content_type__app_label="reservations"))


class Migration(migrations.Migration):
    dependencies = [("reservations", "0001_initial"), ("crm", "0003_roles")]
    operations = [migrations.RunPython(grant, revoke)]
