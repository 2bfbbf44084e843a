"""Name search by word: one slip per word, any order, beginnings; the word dictionary PostgreSQL keeps."""

import threading
import time
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from crm import selectors, services
from crm.models import Customer, NameWord
from tests.crm.factories import CustomerFactory


def names(query: str, limit: int = 25) -> list[str]:
    return [c.full_name for c in selectors.customer_search(query=query, limit=limit)]


def dictionary() -> set[str]:
    return set(NameWord.objects.values_list("word", flat=True))


def words_in_names() -> set[str]:
    return {w for words in Customer.objects.values_list("name_words", flat=True) for w in words}


@pytest.fixture
def garcias(db):
    for given_name, family_name in [
        ("Maria", "Garcia"), ("Mario", "Garcia"), ("Maria", "Gomez"), ("Marta", "Garcia"),
        ("Marcos", "Garcia"), ("Jean-Luc", "O'Neil"), ("Wei", "Zhang"), ("John", "Smith"),
    ]:  # fmt: skip
        CustomerFactory(given_name=given_name, family_name=family_name)


@pytest.mark.parametrize(
    ("query", "slip"),
    [
        ("Mraia Gracia", "neighbouring letters swapped"),
        ("Maria Garcia", "none"),
        ("Mxria Garcoa", "a letter replaced"),
        ("Mria Garca", "a letter left out"),
        ("Marria Garciaa", "a letter doubled"),
        ("GARCIA maria", "words the other way round, in capitals"),
        ("  maria   garcia ", "stray spaces"),
    ],
)
def test_one_slip_per_word_still_finds_the_customer_first(garcias, query, slip):
    found = names(query)
    assert found[0] == "Maria Garcia", slip
    # every word typed must match a word of the name: Maria Gomez and Wei Zhang are not "Maria Garcia"
    assert "Maria Gomez" not in found and "Wei Zhang" not in found


def test_a_swap_that_spells_another_name_still_finds_the_person_meant(db):
    # "Gray" is itself a name, with many names one letter from it; the swap back to Gary must survive
    for given_name in ["Gray", "Grey", "Grays", "Grady", "Gran", "Gracy", "Gravy", "Grayson", "Ray", "Gay", "Bray"]:
        CustomerFactory(given_name=given_name, family_name="Little")
    CustomerFactory(given_name="Gary", family_name="Little")
    assert "Gary Little" in names("Gray Litlte")


@pytest.mark.parametrize("word", ["smith", "a", "zoë", "łukasz", "王伟", "o"])
def test_python_and_postgresql_make_the_same_keys(db, word):
    with connection.cursor() as cursor:
        cursor.execute("SELECT crm_name_word_keys(%s), crm_name_words(%s)", [word, f"Jean-Luc {word.upper()}"])
        keys, words = cursor.fetchone()
    assert selectors.name_word_keys(word) == keys
    assert selectors.name_words_of(f"Jean-Luc {word.upper()}") == words


def test_a_beginning_of_three_letters_finds_every_name_with_a_word_so_beginning(garcias):
    garcias = ["Marcos Garcia", "Maria Garcia", "Mario Garcia", "Marta Garcia"]
    assert sorted(names("Gar")) == garcias
    assert sorted(names("mar garc")) == garcias


def test_hyphens_and_apostrophes_split_words_as_in_the_name(garcias):
    assert names("jean luc oneil")[0] == "Jean-Luc O'Neil"
    assert names("O'Neil")[0] == "Jean-Luc O'Neil"


def test_the_exact_name_ranks_above_names_one_slip_away(garcias):
    found = names("Maria Garcia")
    assert found[0] == "Maria Garcia"
    # Mario and Marta are one letter from Maria; Marcos is further
    assert set(found) == {"Maria Garcia", "Mario Garcia", "Marta Garcia"}


def test_words_that_match_no_name_fall_back_to_whole_name_similarity(garcias):
    # "Smxxh" is two slips from Smith: no word matches, so the forgiving whole-name search answers
    assert names("John Smxxh") == ["John Smith"]
    assert names("Zzyzx Qwerty") == []


def test_name_search_costs_the_same_queries_for_ten_or_two_hundred_customers(db):
    def queries_for(query: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            selectors.customer_search_ids(query=query)
        return len(captured)

    CustomerFactory.create_batch(10)
    CustomerFactory(given_name="Maria", family_name="Garcia")
    few = queries_for("Mraia Gracia")
    CustomerFactory.create_batch(200, family_name="Garcia")
    assert queries_for("Mraia Gracia") == few == 3  # names with the words as typed, their meanings, names with those


def test_the_dictionary_follows_creates_renames_merges_and_erasure(db, agent):
    maria = CustomerFactory(given_name="Maria", family_name="Quintero")
    twin = CustomerFactory(given_name="Marta", family_name="Quintero")
    assert {"maria", "marta", "quintero"} <= dictionary()
    assert NameWord.objects.get(word="quintero").keys == sorted(
        {"quintero", "uintero", "qintero", "quntero", "quitero", "quinero", "quintro", "quinteo", "quinter"}
    )

    # a rename drops a word no one else has and keeps one still in use
    services.customer_update(customer=maria, data={"given_name": "Mariela"}, by=agent)
    assert "maria" not in dictionary() and "mariela" in dictionary() and "quintero" in dictionary()

    # merging deletes the loser's record: its words go when no one else has them
    services.customer_merge(survivor=maria, loser=twin, by=agent)
    assert "marta" not in dictionary() and "quintero" in dictionary()

    # erasure leaves no trace of the name here
    services.customer_profile_erase(maria)
    assert not {"mariela", "quintero"} & dictionary()
    assert dictionary() == words_in_names()


@pytest.mark.timeout(180)
def test_bulk_copy_fills_the_dictionary_in_step(db):
    call_command("generate_scale", customers=400, batch_size=150, seed=3, stdout=StringIO())
    assert dictionary() == words_in_names()
    some = Customer.objects.order_by("id").first()
    assert some.pk in selectors.customer_search_ids(query=f"{some.given_name} {some.family_name}")


# Two writers at once, on their own connections: one drops the last customer holding a word while the other
# adds a customer with that word. Whichever goes first, the word must stay in the dictionary.


def _in_thread(work):  # noqa: ANN001, ANN202
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - reported to the test below
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def _wait_until_blocked_on_a_lock(timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    with connections["default"].cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.02)
    raise AssertionError("the second writer never waited for the first")


@pytest.mark.django_db(transaction=True)
def test_a_word_added_while_its_last_holder_is_renamed_stays_in_the_dictionary():
    last = CustomerFactory(given_name="Ilse", family_name="Vandersloot")
    added = threading.Event()
    release = threading.Event()

    def register_new_holder() -> None:
        with transaction.atomic():
            CustomerFactory(given_name="Anna", family_name="Vandersloot")
            added.set()
            release.wait(10)  # still uncommitted while the rename runs

    adder, adder_errors = _in_thread(register_new_holder)
    assert added.wait(10)
    renamer, renamer_errors = _in_thread(lambda: Customer.objects.filter(pk=last.pk).update(family_name="Smits"))
    _wait_until_blocked_on_a_lock()  # the rename waits for the registration to finish
    release.set()
    adder.join(10), renamer.join(10)

    assert not adder_errors and not renamer_errors
    assert "vandersloot" in dictionary()
    assert dictionary() == words_in_names()


@pytest.mark.django_db(transaction=True)
def test_a_word_dropped_while_a_new_holder_registers_comes_back():
    last = CustomerFactory(given_name="Ilse", family_name="Vandersloot")
    dropped = threading.Event()
    release = threading.Event()

    def rename_last_holder() -> None:
        with transaction.atomic():
            Customer.objects.filter(pk=last.pk).update(family_name="Smits")
            dropped.set()
            release.wait(10)  # the word is deleted but not yet committed

    renamer, renamer_errors = _in_thread(rename_last_holder)
    assert dropped.wait(10)
    adder, adder_errors = _in_thread(lambda: CustomerFactory(given_name="Anna", family_name="Vandersloot"))
    _wait_until_blocked_on_a_lock()
    release.set()
    renamer.join(10), adder.join(10)

    assert not adder_errors and not renamer_errors
    assert "vandersloot" in dictionary()
    assert dictionary() == words_in_names()
    assert names("Anna Vandersloot") == ["Anna Vandersloot"]


@pytest.mark.django_db(transaction=True)
def test_many_writers_at_once_leave_the_dictionary_equal_to_the_names():
    family_names = ["Okafor", "Lindqvist", "Takahashi", "Moreau"]
    people = [CustomerFactory(given_name="Seed", family_name=f) for f in family_names]
    start = threading.Barrier(8)

    def churn(i: int) -> None:
        start.wait(10)
        for round_ in range(15):
            family = family_names[(i + round_) % len(family_names)]
            if i % 2:
                CustomerFactory(given_name=f"Writer{i}", family_name=family)
            else:
                Customer.objects.filter(pk=people[(i + round_) % len(people)].pk).update(
                    family_name=family_names[(i + round_ + 1) % len(family_names)]
                )
                Customer.objects.filter(given_name=f"Writer{i + 1}", family_name=family).delete()

    threads = [_in_thread(lambda i=i: churn(i)) for i in range(8)]
    for thread, _errors in threads:
        thread.join(60)
    assert [e for _t, errors in threads for e in errors] == []
    assert dictionary() == words_in_names()


def test_an_identifier_found_spares_the_slow_whole_name_search(db):
    # a customer number of letters only could be a name too; once it is found, nothing else is scanned
    customer = CustomerFactory(given_name="Ada", family_name="Lovelace")
    Customer.objects.filter(pk=customer.pk).update(customer_number="WVGJURKE")
    CustomerFactory(given_name="Wvg", family_name="Jurke")

    with CaptureQueriesContext(connection) as captured:
        found = selectors.customer_search_ids(query="wvgjurke")
    assert found == [customer.pk]
    assert not [q for q in captured.captured_queries if "similarity_threshold" in q["sql"]]
