"""Name search by word: each name's words on the customer, and a dictionary of words kept by triggers.

A trigram scan of every customer's full name cannot answer within tens of milliseconds at a million
customers; looking up each typed word (or its one-slip neighbours) in a small dictionary, then the
customers holding those words through a GIN index, can. See crm.models.NameWord and
crm.selectors.customer_search_ids.
"""

import django.contrib.postgres.fields
import django.contrib.postgres.indexes
from django.db import migrations, models

FUNCTIONS = r"""
CREATE FUNCTION crm_name_words(name text) RETURNS text[]
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN array_remove(regexp_split_to_array(lower(name), '[^[:alnum:]]+'), '');

CREATE FUNCTION crm_name_word_keys(word text) RETURNS text[]
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN ARRAY(
        SELECT DISTINCT k FROM (
            SELECT word AS k
            UNION ALL
            SELECT overlay(word PLACING '' FROM i FOR 1) FROM generate_series(1, char_length(word)) AS i
        ) AS keys
        WHERE k <> ''
        ORDER BY k
    );
"""

DROP_FUNCTIONS = """
DROP FUNCTION crm_name_word_keys(text);
DROP FUNCTION crm_name_words(text);
"""

# Statement-level, so a COPY of 50,000 customers costs one dictionary upsert, not 50,000.
# Concurrency: a statement that adds a word holds KEY SHARE on its dictionary row until commit, and one
# that may drop a word first takes FOR UPDATE on it, so it waits for those writers and then, in a fresh
# statement (fresh snapshot under READ COMMITTED), sees their customers and keeps the word. A writer
# whose word was dropped under it inserts it again (the loop).
TRIGGERS = r"""
CREATE FUNCTION crm_name_words_sync() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    added text[];
    removed text[];
    locked integer;
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(DISTINCT w) INTO added FROM new_rows, unnest(new_rows.name_words) AS w;
    ELSIF TG_OP = 'UPDATE' THEN
        SELECT array_agg(w) INTO added FROM (
            SELECT unnest(name_words) AS w FROM new_rows EXCEPT SELECT unnest(name_words) FROM old_rows
        ) AS a;
        SELECT array_agg(w) INTO removed FROM (
            SELECT unnest(name_words) AS w FROM old_rows EXCEPT SELECT unnest(name_words) FROM new_rows
        ) AS r;
    ELSE
        SELECT array_agg(DISTINCT w) INTO removed FROM old_rows, unnest(old_rows.name_words) AS w;
    END IF;

    IF removed IS NOT NULL THEN
        PERFORM 1 FROM crm_nameword WHERE word = ANY(removed) ORDER BY word FOR UPDATE;
        DELETE FROM crm_nameword AS d
        WHERE d.word = ANY(removed)
          AND NOT EXISTS (SELECT 1 FROM crm_customer AS c WHERE c.name_words @> ARRAY[d.word]);
    END IF;

    IF added IS NOT NULL THEN
        LOOP
            INSERT INTO crm_nameword (word, keys)
            SELECT w, crm_name_word_keys(w) FROM unnest(added) AS w ORDER BY w
            ON CONFLICT (word) DO NOTHING;
            SELECT count(*) INTO locked FROM (
                SELECT 1 FROM crm_nameword WHERE word = ANY(added) ORDER BY word FOR KEY SHARE
            ) AS l;
            EXIT WHEN locked = cardinality(added);
        END LOOP;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER customer_name_words_insert AFTER INSERT ON crm_customer
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION crm_name_words_sync();
CREATE TRIGGER customer_name_words_update AFTER UPDATE ON crm_customer
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION crm_name_words_sync();
CREATE TRIGGER customer_name_words_delete AFTER DELETE ON crm_customer
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION crm_name_words_sync();

INSERT INTO crm_nameword (word, keys)
SELECT w, crm_name_word_keys(w) FROM (SELECT DISTINCT unnest(name_words) AS w FROM crm_customer) AS words
ON CONFLICT (word) DO NOTHING;
"""

DROP_TRIGGERS = """
DROP TRIGGER customer_name_words_delete ON crm_customer;
DROP TRIGGER customer_name_words_update ON crm_customer;
DROP TRIGGER customer_name_words_insert ON crm_customer;
DROP FUNCTION crm_name_words_sync();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0004_outbound_email"),
    ]

    operations = [
        migrations.RunSQL(FUNCTIONS, DROP_FUNCTIONS),
        migrations.AddField(
            model_name="customer",
            name="name_words",
            field=models.GeneratedField(
                db_persist=True,
                expression=models.Func(
                    models.functions.Concat("given_name", models.Value(" "), "family_name"),
                    function="crm_name_words",
                    output_field=django.contrib.postgres.fields.ArrayField(models.TextField()),
                ),
                output_field=django.contrib.postgres.fields.ArrayField(models.TextField()),
            ),
        ),
        migrations.AddIndex(
            model_name="customer",
            index=django.contrib.postgres.indexes.GinIndex(fields=["name_words"], name="customer_name_words"),
        ),
        migrations.CreateModel(
            name="NameWord",
            fields=[
                ("word", models.TextField(primary_key=True, serialize=False)),
                ("keys", django.contrib.postgres.fields.ArrayField(base_field=models.TextField(), size=None)),
            ],
            options={
                "indexes": [
                    django.contrib.postgres.indexes.GinIndex(fields=["keys"], name="name_word_keys"),
                    models.Index(
                        django.contrib.postgres.indexes.OpClass("word", name="text_pattern_ops"),
                        name="name_word_prefix",
                    ),
                ],
            },
        ),
        migrations.RunSQL(TRIGGERS, DROP_TRIGGERS),
    ]
