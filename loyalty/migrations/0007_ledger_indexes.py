"""The ledger's indexes: fewer, smaller, and each for a query that needs it.

loyalty_milesentry grows to tens of millions of rows. It had twelve indexes; now:

- ``milesentry_idempotency_key_once``: the unique constraint of ``idempotency_key`` (renamed, not rebuilt);
  the ``varchar_pattern_ops`` "_like" index Django adds beside a unique CharField is dropped: keys are
  only ever looked up exactly (``=``, ``IN``, the accrual's anti-join), never by prefix.
- ``milesentry_reverses_once``: an entry is reversed at most once, as a partial unique index over the few
  reversals instead of a unique constraint over every row.
- partial indexes (``WHERE col IS NOT NULL``) for the foreign keys that are NULL on most rows: booking
  (an award's refund, fraud checks), coupon, counterpart, created_by. PostgreSQL uses them for
  ``col = x`` and for the foreign-key checks when a referenced row is deleted.
- the full single-column indexes of member (``milesentry_statement`` leads with it) and partner
  (``milesentry_partner`` is partial on it already) go.

Only indexes change: the foreign-key constraints are left alone (Django's own AlterField would drop and
re-add each, validating the whole table again). New indexes are built CONCURRENTLY before the old ones
are dropped, so the ledger keeps taking postings and never lacks an index a query needs; hence the
migration is not atomic and runs one statement at a time.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('loyalty', '0006_award_chart'),
        ('reservations', '0007_payment_pending_state'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    [
                        'CREATE INDEX CONCURRENTLY IF NOT EXISTS "milesentry_booking" ON "loyalty_milesentry" ("booking_id") WHERE "booking_id" IS NOT NULL',
                        'CREATE INDEX CONCURRENTLY IF NOT EXISTS "milesentry_coupon" ON "loyalty_milesentry" ("coupon_id") WHERE "coupon_id" IS NOT NULL',
                        'CREATE INDEX CONCURRENTLY IF NOT EXISTS "milesentry_counterpart" ON "loyalty_milesentry" ("counterpart_id") WHERE "counterpart_id" IS NOT NULL',
                        'CREATE INDEX CONCURRENTLY IF NOT EXISTS "milesentry_created_by" ON "loyalty_milesentry" ("created_by_id") WHERE "created_by_id" IS NOT NULL',
                        'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "milesentry_reverses_once" ON "loyalty_milesentry" ("reverses_id") WHERE "reverses_id" IS NOT NULL',
                    ],
                    reverse_sql=[
                        'DROP INDEX CONCURRENTLY IF EXISTS "milesentry_booking"',
                        'DROP INDEX CONCURRENTLY IF EXISTS "milesentry_coupon"',
                        'DROP INDEX CONCURRENTLY IF EXISTS "milesentry_counterpart"',
                        'DROP INDEX CONCURRENTLY IF EXISTS "milesentry_created_by"',
                        'DROP INDEX CONCURRENTLY IF EXISTS "milesentry_reverses_once"',
                    ],
                ),
                migrations.RunSQL(
                    [
                        'ALTER TABLE "loyalty_milesentry" DROP CONSTRAINT IF EXISTS "loyalty_milesentry_reverses_id_key"',
                        'ALTER TABLE "loyalty_milesentry" RENAME CONSTRAINT "loyalty_milesentry_idempotency_key_key" TO "milesentry_idempotency_key_once"',
                    ],
                    reverse_sql=[
                        'ALTER TABLE "loyalty_milesentry" RENAME CONSTRAINT "milesentry_idempotency_key_once" TO "loyalty_milesentry_idempotency_key_key"',
                        'ALTER TABLE "loyalty_milesentry" ADD CONSTRAINT "loyalty_milesentry_reverses_id_key" UNIQUE ("reverses_id")',
                    ],
                ),
                migrations.RunSQL(
                    [
                        'DROP INDEX CONCURRENTLY IF EXISTS "loyalty_milesentry_idempotency_key_2d1f164c_like"',
                        'DROP INDEX CONCURRENTLY IF EXISTS "loyalty_milesentry_booking_id_5da419ef"',
                        'DROP INDEX CONCURRENTLY IF EXISTS "loyalty_milesentry_coupon_id_8079bc16"',
                        'DROP INDEX CONCURRENTLY IF EXISTS "loyalty_milesentry_counterpart_id_6eae60a7"',
                        'DROP INDEX CONCURRENTLY IF EXISTS "loyalty_milesentry_created_by_id_217dbdc3"',
                        'DROP INDEX CONCURRENTLY IF EXISTS "loyalty_milesentry_member_id_dccfc6f9"',
                        'DROP INDEX CONCURRENTLY IF EXISTS "loyalty_milesentry_partner_id_c7451338"',
                    ],
                    reverse_sql=[
                        'CREATE INDEX CONCURRENTLY IF NOT EXISTS "loyalty_milesentry_idempotency_key_2d1f164c_like" ON "loyalty_milesentry" ("idempotency_key" varchar_pattern_ops)',
                        'CREATE INDEX CONCURRENTLY IF NOT EXISTS "loyalty_milesentry_booking_id_5da419ef" ON "loyalty_milesentry" ("booking_id")',
                        'CREATE INDEX CONCURRENTLY IF NOT EXISTS "loyalty_milesentry_coupon_id_8079bc16" ON "loyalty_milesentry" ("coupon_id")',
                        'CREATE INDEX CONCURRENTLY IF NOT EXISTS "loyalty_milesentry_counterpart_id_6eae60a7" ON "loyalty_milesentry" ("counterpart_id")',
                        'CREATE INDEX CONCURRENTLY IF NOT EXISTS "loyalty_milesentry_created_by_id_217dbdc3" ON "loyalty_milesentry" ("created_by_id")',
                        'CREATE INDEX CONCURRENTLY IF NOT EXISTS "loyalty_milesentry_member_id_dccfc6f9" ON "loyalty_milesentry" ("member_id")',
                        'CREATE INDEX CONCURRENTLY IF NOT EXISTS "loyalty_milesentry_partner_id_c7451338" ON "loyalty_milesentry" ("partner_id")',
                    ],
                ),
            ],
            state_operations=[
                migrations.AlterField(
                    model_name='milesentry',
                    name='booking',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='reservations.booking'),
                ),
                migrations.AlterField(
                    model_name='milesentry',
                    name='counterpart',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='loyalty.member'),
                ),
                migrations.AlterField(
                    model_name='milesentry',
                    name='coupon',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='reservations.coupon'),
                ),
                migrations.AlterField(
                    model_name='milesentry',
                    name='created_by',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
                ),
                migrations.AlterField(
                    model_name='milesentry',
                    name='idempotency_key',
                    field=models.CharField(max_length=120, verbose_name='idempotency key'),
                ),
                migrations.AlterField(
                    model_name='milesentry',
                    name='member',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='entries', to='loyalty.member'),
                ),
                migrations.AlterField(
                    model_name='milesentry',
                    name='partner',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='entries', to='loyalty.partner'),
                ),
                migrations.AlterField(
                    model_name='milesentry',
                    name='reverses',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='reversed_by', to='loyalty.milesentry'),
                ),
                migrations.AddIndex(
                    model_name='milesentry',
                    index=models.Index(condition=models.Q(('booking__isnull', False)), fields=['booking'], name='milesentry_booking'),
                ),
                migrations.AddIndex(
                    model_name='milesentry',
                    index=models.Index(condition=models.Q(('coupon__isnull', False)), fields=['coupon'], name='milesentry_coupon'),
                ),
                migrations.AddIndex(
                    model_name='milesentry',
                    index=models.Index(condition=models.Q(('counterpart__isnull', False)), fields=['counterpart'], name='milesentry_counterpart'),
                ),
                migrations.AddIndex(
                    model_name='milesentry',
                    index=models.Index(condition=models.Q(('created_by__isnull', False)), fields=['created_by'], name='milesentry_created_by'),
                ),
                migrations.AddConstraint(
                    model_name='milesentry',
                    constraint=models.UniqueConstraint(fields=('idempotency_key',), name='milesentry_idempotency_key_once'),
                ),
                migrations.AddConstraint(
                    model_name='milesentry',
                    constraint=models.UniqueConstraint(condition=models.Q(('reverses__isnull', False)), fields=('reverses',), name='milesentry_reverses_once'),
                ),
            ],
        ),
    ]
