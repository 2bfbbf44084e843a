"""The whole-name fallback runs in passes of falling similarity for speed at scale; the results must not change."""

import pytest
from django.db import connection

from crm import selectors
from tests.crm.factories import CustomerFactory

NAMES = [
    ("John", "Smith"), ("John", "Smith"), ("Jon", "Smith"), ("Joan", "Smith"), ("Johnny", "Smithers"),
    ("Joe", "Smith"), ("Jane", "Smyth"), ("John", "Smithson"), ("Jonah", "Smit"), ("Mary", "Smith"),
    ("Hans", "Schmidt"), ("Wei", "Zhang"), ("Wei", "Zhao"), ("Li", "Wei"), ("Jonas", "Schmid"),
]  # fmt: skip


def one_pass(query: str, limit: int) -> list[int]:
    """The ranking as a single query at the loosest threshold: what the passes must reproduce."""
    name = " ".join(query.lower().split())
    with connection.cursor() as cursor:
        cursor.execute("SET pg_trgm.similarity_threshold = %s", [selectors.NAME_SIMILARITY_THRESHOLD])
        cursor.execute(
            "SELECT id FROM crm_customer WHERE anonymized_at IS NULL AND search_name %% %s "
            "ORDER BY similarity(search_name, %s) DESC, id LIMIT %s",
            [name, name, limit],
        )
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["Jonh Smiht", "John Smith", "smith", "Wei Zhnag", "Hans Schmidt", "Zzyzx Qwerty"])
@pytest.mark.parametrize("limit", [1, 2, 3, 5, 25])
def test_name_search_in_passes_ranks_exactly_like_one_pass(query, limit):
    # given customers whose names are more or less like the query
    for given_name, family_name in NAMES:
        CustomerFactory(given_name=given_name, family_name=family_name)

    # when the whole-name search runs (stricter passes first, as many as it needs)
    name = " ".join(query.lower().split())
    found = selectors.customer_ids_by_name_similarity(name=name, exclude=set(), limit=limit)

    # then the customers and their order are those of the single loose pass
    assert found == one_pass(query, limit)


@pytest.mark.django_db
def test_typo_tolerance_survives_the_passes():
    CustomerFactory(given_name="John", family_name="Smith")
    for i in range(30):
        CustomerFactory(given_name="Maria", family_name=f"Garcia{i}")

    assert [c.full_name for c in selectors.customer_search(query="Jonh Smiht")] == ["John Smith"]
