from django.db import connection

from crm.selectors import customer_search
from crm.services import customer_create


def test_passport_number_is_not_stored_in_plaintext(db):
    # given a customer with a passport
    customer = customer_create(data={"given_name": "Ada", "family_name": "Lovelace", "passport_number": "k 7654321"})
    # when we read the raw column
    with connection.cursor() as cursor:
        cursor.execute("SELECT passport_number, passport_hash FROM crm_customer WHERE id = %s", [customer.pk])
        raw, digest = cursor.fetchone()
    # then it is ciphertext, yet the model and the keyed hash still find it
    assert "7654321" not in raw
    customer.refresh_from_db()
    assert customer.passport_number == "K7654321"
    assert digest and customer_search(query="K7654321", by_documents=True) == [customer]


def test_name_search_tolerates_typos(db):
    john = customer_create(data={"given_name": "John", "family_name": "Smith"})
    customer_create(data={"given_name": "Maria", "family_name": "Garcia"})
    assert customer_search(query="Jonh Smiht")[0] == john


def test_change_log_names_who_changed_what_from_what_to_what_outside_a_web_request(agent):
    from auditlog.models import LogEntry

    from crm.services import customer_update

    # given a customer
    customer = customer_create(data={"given_name": "Ada", "family_name": "Lovelace", "city": "London"})
    # when an agent changes the city through the service (as the API or a task would)
    customer_update(customer=customer, data={"city": "Paris"}, by=agent)
    # then the change log holds the agent and the before and after values
    entry = LogEntry.objects.get_for_object(customer).filter(action=LogEntry.Action.UPDATE).get()
    assert entry.actor == agent
    assert entry.changes_dict["city"] == ["London", "Paris"]
