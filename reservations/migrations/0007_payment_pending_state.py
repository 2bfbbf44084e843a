"""Card payments are recorded as pending before the gateway is called; idempotency keys belong to a login.

Existing keys move into their scope: the API stored ``api:<user id>:<key>``, the portal and office the
bare key with the paying login as ``created_by``; a retry after this migration still finds its payment.
"""

from django.conf import settings
from django.db import migrations, models


def scope_existing_keys(apps, schema_editor):  # noqa: ANN001, ANN201
    Payment = apps.get_model("reservations", "Payment")
    for payment in Payment.objects.only("pk", "idempotency_key", "created_by_id").iterator():
        prefix, _, rest = payment.idempotency_key.partition(":")
        user_id, _, key = rest.partition(":")
        if prefix == "api" and user_id.isdigit() and key:
            scope = f"user:{user_id}"
        else:
            key = payment.idempotency_key
            scope = f"user:{payment.created_by_id}" if payment.created_by_id else ""
        Payment.objects.filter(pk=payment.pk).update(idempotency_scope=scope, idempotency_key=key)


class Migration(migrations.Migration):

    dependencies = [
        ('reservations', '0006_discount_charges'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='payment',
            name='idempotency_scope',
            field=models.CharField(default='', max_length=40, verbose_name='idempotency scope'),
        ),
        migrations.RunPython(scope_existing_keys, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name='payment',
            name='idempotency_key',
            field=models.CharField(max_length=100, verbose_name='idempotency key'),
        ),
        migrations.AlterField(
            model_name='payment',
            name='status',
            field=models.CharField(choices=[('pending', 'Being processed'), ('succeeded', 'Succeeded'), ('declined', 'Declined')], max_length=10, verbose_name='status'),
        ),
        migrations.AddIndex(
            model_name='payment',
            index=models.Index(condition=models.Q(('status', 'pending')), fields=['created_at'], name='payment_pending'),
        ),
        migrations.AddConstraint(
            model_name='payment',
            constraint=models.UniqueConstraint(fields=('idempotency_scope', 'idempotency_key'), name='payment_idempotency_key_unique'),
        ),
    ]
