"""crm.rows.insert writes what the ORM would: plain values passed as they are, everything else prepared by its field."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from crm import rows
from crm.models import Customer, Gender, TimelineEntry, Title

pytestmark = pytest.mark.django_db


def values(obj) -> dict:  # noqa: ANN001
    return {field.attname: getattr(obj, field.attname) for field in obj._meta.concrete_fields}


def test_a_customer_inserted_by_hand_reads_back_as_the_orm_would_have_written_it():
    # given a customer with choices, a date, an encrypted passport, a phone, countries and auto_now stamps
    before = timezone.now() - timedelta(seconds=1)
    customer = Customer(
        title=Title.MS,
        given_name="Ada",
        family_name="Lovelace",
        gender=Gender.FEMALE,
        date_of_birth=date(1985, 12, 10),
        email="ada@example.com",
        phone="+442079460958",
        nationality="GB",
        passport_number="P1234567",
        passport_country="GB",
        passport_expiry=date(2031, 1, 31),
    )

    # when it is written by hand
    rows.insert([customer])

    # then it has its id and generated columns, and every field reads back as written
    assert customer.pk is not None and customer.search_name == "ada lovelace"
    stored = Customer.objects.get(pk=customer.pk)
    assert values(stored) == values(customer)
    assert stored.passport_number == "P1234567" and str(stored.phone) == "+442079460958"
    # the auto_now stamps were set, not left empty
    assert stored.updated_at >= before and stored.created_at >= before
    # and the passport is encrypted in the table, not stored as typed
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT passport_number FROM crm_customer WHERE id = %s", [customer.pk])
        assert "P1234567" not in str(cursor.fetchone()[0])


def test_several_timeline_entries_are_one_statement_with_their_json(django_assert_num_queries):
    customer = Customer.objects.create(given_name="Grace", family_name="Hopper")
    entries = [
        TimelineEntry(customer=customer, kind="booking.created", summary=f"Booked {n}", data={"n": n, "seats": [n, n + 1]})
        for n in range(3)
    ]
    with django_assert_num_queries(1):
        rows.insert(entries)
    assert [e.data for e in TimelineEntry.objects.filter(customer=customer).order_by("pk")] == [
        {"n": n, "seats": [n, n + 1]} for n in range(3)
    ]
    assert all(e.pk is not None and not e._state.adding for e in entries)


def test_a_value_of_the_wrong_type_for_a_plain_field_is_prepared_as_the_orm_would():
    # an integer given to a text field is sent as text, as get_db_prep_save would send it
    customer = Customer.objects.create(given_name="Alan", family_name="Turing")
    entry = TimelineEntry(customer=customer, kind="note", summary=12345, data={})
    rows.insert([entry])
    assert TimelineEntry.objects.get(pk=entry.pk).summary == "12345"


def test_the_customer_of_a_login_is_read_by_hand_as_the_orm_reads_it_and_kept_both_ways(django_assert_num_queries):
    from crm.models import User
    from crm.selectors import customer_of_login

    # given a login with a customer record holding a passport and a phone
    user = User.objects.create_user(username="ada@example.com", password="x" * 12)
    Customer.objects.create(
        user=user, given_name="Ada", family_name="Lovelace", passport_number="P7654321", phone="+442079460958"
    )
    fresh = User.objects.get(pk=user.pk)

    # when its customer is read by hand, in one query
    with django_assert_num_queries(1):
        customer = customer_of_login(user=fresh)

    # then it is the record the ORM reads, and both directions are cached
    assert values(customer) == values(Customer.objects.get(user=user))
    with django_assert_num_queries(0):
        assert fresh.customer is customer and customer.user is fresh
        assert customer_of_login(user=fresh) is customer
    # and a login without a record has none, also remembered
    other = User.objects.create_user(username="nobody@example.com", password="x" * 12)
    with django_assert_num_queries(1):
        assert customer_of_login(user=other) is None
        assert customer_of_login(user=other) is None


def test_values_a_field_would_convert_are_converted_as_the_orm_converts_them():
    # a datetime given to a date field is cut to its date, as the field does it
    from datetime import datetime as moment

    customer = Customer(given_name="Mary", family_name="Somerville", date_of_birth=moment(1980, 12, 26, 23, 30))
    rows.insert([customer])
    assert Customer.objects.get(pk=customer.pk).date_of_birth == date(1980, 12, 26)


# --- Statements prepared once per database session ---------------------------------------------------


def test_a_statement_is_prepared_by_its_first_use_in_the_same_round_trip_then_only_executed():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    sql = "SELECT given_name FROM crm_customer WHERE family_name = %s AND given_name <> %s ORDER BY id"
    Customer.objects.create(given_name="Ada", family_name="Lovelace")
    with CaptureQueriesContext(connection) as captured, connection.cursor() as cursor:
        rows.execute_prepared(cursor, name="test_rows_by_family", sql=sql, params=["Lovelace", "Byron"])
        first = cursor.fetchall()
        rows.execute_prepared(cursor, name="test_rows_by_family", sql=sql, params=["Lovelace", "Ada"])
        second = cursor.fetchall()
    assert first == [("Ada",)] and second == []
    # one query each: the first also prepares it, the second only executes it
    assert len(captured.captured_queries) == 2
    assert captured.captured_queries[0]["sql"].startswith("PREPARE test_rows_by_family AS SELECT")
    assert "$1" in captured.captured_queries[0]["sql"] and "$2" in captured.captured_queries[0]["sql"]
    assert captured.captured_queries[1]["sql"].startswith("EXECUTE test_rows_by_family(")


def test_a_failing_execution_keeps_the_statement_prepared_for_the_next_use():
    from django.db import IntegrityError, connection, transaction

    customer = Customer.objects.create(given_name="Ada", family_name="Lovelace")
    sql = "UPDATE crm_customer SET customer_number = %s WHERE id = %s"
    other = Customer.objects.create(given_name="Grace", family_name="Hopper")
    with connection.cursor() as cursor:
        # when its first execution breaks a constraint (the number is taken), inside a transaction rolled back
        with pytest.raises(IntegrityError), transaction.atomic():
            rows.execute_prepared(cursor, name="test_rows_renumber", sql=sql, params=[other.customer_number, customer.pk])
        # then the next use only executes it, and works
        rows.execute_prepared(cursor, name="test_rows_renumber", sql=sql, params=["ZZ1234567890"[:12], customer.pk])
        assert cursor.rowcount == 1
    customer.refresh_from_db()
    assert customer.customer_number == "ZZ1234567890"[:12]


@pytest.mark.django_db(transaction=True)  # the connection is closed: not inside a test's transaction
def test_a_new_database_session_prepares_its_statements_again():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    sql = "SELECT count(*) FROM crm_customer WHERE family_name = %s"
    with connection.cursor() as cursor:
        rows.execute_prepared(cursor, name="test_rows_count", sql=sql, params=["Lovelace"])
    connection.close()  # the session, and what it prepared, ends
    with CaptureQueriesContext(connection) as captured, connection.cursor() as cursor:
        rows.execute_prepared(cursor, name="test_rows_count", sql=sql, params=["Lovelace"])
        assert cursor.fetchone() == (0,)
    assert captured.captured_queries[0]["sql"].startswith("PREPARE test_rows_count")


def test_what_a_prepared_statement_runs_can_be_read_back_from_the_sql_sent():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    sql = "UPDATE crm_customer SET given_name = %s WHERE id = %s"
    customer = Customer.objects.create(given_name="Ada", family_name="Lovelace")
    with CaptureQueriesContext(connection) as captured, connection.cursor() as cursor:
        for name in ("Augusta", "Ada"):
            rows.execute_prepared(cursor, name="test_rows_rename", sql=sql, params=[name, customer.pk])
    # both the first (PREPARE and EXECUTE) and the second (EXECUTE) read back as the UPDATE they ran
    assert [rows.prepared_statement(q["sql"]) for q in captured.captured_queries] == [sql, sql]
    assert rows.prepared_statement("SELECT 1") == "SELECT 1"


def test_a_session_out_of_step_with_what_was_prepared_fails_one_statement_and_then_recovers():
    from django.db import DatabaseError, connection, transaction

    sql = "SELECT count(*) FROM crm_customer WHERE family_name = %s"
    with connection.cursor() as cursor:
        # given the session already holds a statement of that name, prepared behind our back
        cursor.execute("PREPARE test_rows_behind AS SELECT 1")
        with pytest.raises(DatabaseError), transaction.atomic():
            rows.execute_prepared(cursor, name="test_rows_behind", sql=sql, params=["Lovelace"])
        # then the next use replaces it with ours, and runs ours
        Customer.objects.create(given_name="Ada", family_name="Lovelace")
        rows.execute_prepared(cursor, name="test_rows_behind", sql=sql, params=["Lovelace"])
        assert cursor.fetchone() == (1,)
        rows.execute_prepared(cursor, name="test_rows_behind", sql=sql, params=["Byron"])
        assert cursor.fetchone() == (0,)

        # and given one we prepared is dropped behind our back
        rows.execute_prepared(cursor, name="test_rows_dropped", sql=sql, params=["Lovelace"])
        cursor.execute("DEALLOCATE test_rows_dropped")
        with pytest.raises(DatabaseError), transaction.atomic():
            rows.execute_prepared(cursor, name="test_rows_dropped", sql=sql, params=["Lovelace"])
        # then the next use prepares it again
        rows.execute_prepared(cursor, name="test_rows_dropped", sql=sql, params=["Lovelace"])
        assert cursor.fetchone() == (1,)
