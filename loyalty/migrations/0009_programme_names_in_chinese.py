"""The programme's name and its miles' name in Chinese, for Chinese pages."""

from django.db import migrations, models


def keep_renamed_in_english(apps, schema_editor):
    """The Chinese defaults name the default programme: a programme renamed in the admin stays in its own
    words until the admin gives their Chinese form."""
    Programme = apps.get_model("loyalty", "Programme")
    Programme.objects.exclude(name="Aurora Miles").update(name_zh="")
    Programme.objects.exclude(currency_name="miles").update(currency_name_zh="")


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0008_ledger_entry_author_kept"),
    ]

    operations = [
        migrations.AddField(
            model_name="programme",
            name="currency_name_zh",
            field=models.CharField(blank=True, default="里程", max_length=30, verbose_name="currency name in Chinese"),
        ),
        migrations.AddField(
            model_name="programme",
            name="name_zh",
            field=models.CharField(blank=True, default="极光里程", max_length=60, verbose_name="programme name in Chinese"),
        ),
        migrations.RunPython(keep_renamed_in_english, migrations.RunPython.noop),
    ]
