"""The award chart: distance zones and the miles one traveller pays per flight in each cabin."""

import django.db.models.deletion
from django.db import migrations, models

# name, up to (miles; None: any longer), economy, premium economy, business, first
CHART = [
    ("Short haul", 1000, 7500, 12000, 20000, 30000),
    ("Medium haul", 3000, 15000, 25000, 40000, 60000),
    ("Long haul", 6000, 30000, 50000, 80000, 120000),
    ("Ultra long haul", None, 45000, 70000, 110000, 160000),
]
CABINS = ("economy", "premium_economy", "business", "first")


def seed_chart(apps, schema_editor):
    AwardZone = apps.get_model("loyalty", "AwardZone")
    AwardPrice = apps.get_model("loyalty", "AwardPrice")
    for name, limit, *prices in CHART:
        zone, _ = AwardZone.objects.get_or_create(max_distance_miles=limit, defaults={"name": name})
        for cabin, miles in zip(CABINS, prices, strict=True):
            AwardPrice.objects.get_or_create(zone=zone, cabin=cabin, defaults={"miles": miles})


class Migration(migrations.Migration):

    dependencies = [
        ('loyalty', '0005_partners_fraud_liability'),
    ]

    operations = [
        migrations.CreateModel(
            name='AwardZone',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=40, verbose_name='name')),
                ('max_distance_miles', models.PositiveIntegerField(blank=True, help_text='Great-circle distance; blank: any longer flight', null=True, unique=True, verbose_name='up to (miles)')),
            ],
            options={
                'verbose_name': 'award zone',
                'verbose_name_plural': 'award chart',
                'ordering': [models.OrderBy(models.F('max_distance_miles'), nulls_last=True)],
            },
        ),
        migrations.CreateModel(
            name='AwardPrice',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('cabin', models.CharField(choices=[('economy', 'Economy'), ('premium_economy', 'Premium economy'), ('business', 'Business'), ('first', 'First')], max_length=20, verbose_name='cabin')),
                ('miles', models.PositiveIntegerField(verbose_name='miles')),
                ('zone', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='prices', to='loyalty.awardzone')),
            ],
            options={
                'verbose_name': 'award price',
                'verbose_name_plural': 'award prices',
                'ordering': ['zone', 'miles'],
                'constraints': [models.UniqueConstraint(fields=('zone', 'cabin'), name='awardprice_zone_cabin_unique'), models.CheckConstraint(condition=models.Q(('miles__gt', 0)), name='awardprice_miles_positive')],
            },
        ),
        migrations.RunPython(seed_chart, migrations.RunPython.noop),
    ]
