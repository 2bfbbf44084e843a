"""Breakage from history: the miles that must have expired or been redeemed before the liability estimates
breakage from them instead of the configured percentage."""

from decimal import Decimal

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0009_programme_names_in_chinese"),
    ]

    operations = [
        migrations.AddField(
            model_name="programme",
            name="breakage_history_minimum_miles",
            field=models.PositiveBigIntegerField(
                default=1000000,
                help_text="Once this many award miles have expired or been redeemed in the last 24 months, breakage is their share that expired rather than the percentage above",
                verbose_name="breakage from history after (miles)",
            ),
        ),
        migrations.AlterField(
            model_name="programme",
            name="breakage_percent",
            field=models.DecimalField(
                decimal_places=2,
                default=Decimal("18.00"),
                help_text="Share of outstanding miles expected never to be redeemed, used until there is enough history",
                max_digits=5,
                verbose_name="expected breakage (%)",
            ),
        ),
    ]
