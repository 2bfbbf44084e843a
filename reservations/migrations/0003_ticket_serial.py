"""The e-ticket serial: a PostgreSQL sequence, so concurrent ticketing never issues one number twice."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("reservations", "0002_roles")]
    operations = [
        migrations.RunSQL(
            sql="CREATE SEQUENCE IF NOT EXISTS reservations_ticket_serial "
            "AS bigint START WITH 1 MINVALUE 1 MAXVALUE 9999999999 NO CYCLE",
            reverse_sql="DROP SEQUENCE IF EXISTS reservations_ticket_serial",
        )
    ]
