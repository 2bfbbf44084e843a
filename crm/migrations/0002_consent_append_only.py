from django.db import migrations

FORBID = """
CREATE OR REPLACE FUNCTION crm_consent_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'consent history is append-only: rows cannot be deleted';
    END IF;
    -- Only the owner may change, when two duplicate customers are merged.
    IF (NEW.id, NEW.channel, NEW.purpose, NEW.granted, NEW.recorded_at, NEW.source, NEW.method, NEW.recorded_by_id)
       IS DISTINCT FROM
       (OLD.id, OLD.channel, OLD.purpose, OLD.granted, OLD.recorded_at, OLD.source, OLD.method, OLD.recorded_by_id) THEN
        RAISE EXCEPTION 'consent history is append-only: record a new event instead';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER crm_consent_append_only
BEFORE UPDATE OR DELETE ON crm_consentevent
FOR EACH ROW EXECUTE FUNCTION crm_consent_append_only();
"""

ALLOW = """
DROP TRIGGER IF EXISTS crm_consent_append_only ON crm_consentevent;
DROP FUNCTION IF EXISTS crm_consent_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("crm", "0001_initial")]
    operations = [migrations.RunSQL(FORBID, ALLOW)]
