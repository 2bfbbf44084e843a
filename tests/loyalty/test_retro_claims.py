"""Missing miles claimed by e-ticket number: credited once, within the claim period, to the ticket's own
traveller; every refusal says why, and is kept on the member's list of claims."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.urls import reverse
from django.utils import timezone

from crm.errors import ApplicationError
from crm.models import TimelineEntry
from loyalty import services
from loyalty.models import ClaimStatus, MilesEntry, RetroClaim
from tests.loyalty.factories import member
from tests.loyalty.flights import accrual_not_announced, flown_booking, long_haul_flight, ticketed_booking, traveller
from tests.loyalty.test_ledger import assert_balance_is_sum

LHR_JFK = 3442

pytestmark = pytest.mark.django_db


def ticket_of(flown, n: int = 0) -> str:  # noqa: ANN001
    return flown.coupons[n].ticket.number


def refused(m, number: str) -> ApplicationError:  # noqa: ANN001
    with pytest.raises(ApplicationError) as caught:
        services.retro_claim_submit(member=m, ticket_number=number)
    return caught.value


# --- The service --------------------------------------------------------------------------------------------


def test_a_member_who_flew_without_their_number_claims_the_miles_once():
    # Given a member who flew London-New York last week without giving their number
    ada = member(family_name="Lovelace", given_name="Ada")
    flown = flown_booking(passengers=[traveller(ada, number="")], departure=timezone.now() - timedelta(days=7))

    # When they claim by the e-ticket number, typed with dashes
    number = ticket_of(flown)
    claim = services.retro_claim_submit(member=ada, ticket_number=f"{number[:3]}-{number[3:]}")

    # Then the coupon is credited to them, and the claim recorded as credited
    assert (claim.status, claim.ticket_number, claim.miles, claim.flight_date) == (
        ClaimStatus.CREDITED,
        number,
        LHR_JFK,
        flown.flight.service_date,
    )
    [entry] = MilesEntry.objects.filter(member=ada)
    assert (entry.coupon_id, entry.idempotency_key, entry.details["via"]) == (
        flown.coupons[0].pk,
        f"coupon:{flown.coupons[0].pk}",
        "claim",
    )
    assert_balance_is_sum(ada)
    # And the customer's timeline says so
    [noted] = TimelineEntry.objects.filter(customer=ada.customer, kind="loyalty.claim_credited")
    assert noted.data == {"claim_id": claim.pk, "ticket_number": number, "miles": LHR_JFK}

    # And claiming again is refused as already credited, recorded, and changes nothing
    again = refused(ada, number)
    assert again.code == "already_credited" and "ticket_number" in again.fields
    assert MilesEntry.objects.filter(member=ada).count() == 1
    assert list(RetroClaim.objects.filter(member=ada).values_list("status", "refusal")) == [
        (ClaimStatus.REFUSED, "already_credited"),
        (ClaimStatus.CREDITED, ""),
    ]


def test_a_claimed_coupon_is_not_credited_again_by_the_sweep_or_the_arrival_task():
    # Given a member whose flight was claimed before the sweep ran
    ada = member(family_name="Lovelace")
    flown = flown_booking(passengers=[traveller(ada)])
    services.retro_claim_submit(member=ada, ticket_number=ticket_of(flown))

    # When the arrival task and the sweep run after all
    services.miles_accrue_for_flight(flight_id=flown.flight.pk)
    services.miles_accrual_sweep()

    # Then still one credit
    assert MilesEntry.objects.filter(member=ada).count() == 1
    assert_balance_is_sum(ada)


def test_names_match_whatever_the_case_and_accents():
    # Given a member Jens Müller whose ticket was issued to JENS MULLER
    m = member(family_name="Müller", given_name="Jens")
    flown = flown_booking(passengers=[traveller(family_name="MULLER", given_name="JENS")])

    claim = services.retro_claim_submit(member=m, ticket_number=ticket_of(flown))

    assert claim.status == ClaimStatus.CREDITED


def test_a_relative_with_the_same_family_name_cannot_claim_anothers_flight():
    # Given Ada Lovelace's ticket, flown without a number, and her relative Byron Lovelace, a member
    flown = flown_booking(passengers=[traveller(family_name="Lovelace", given_name="Ada")])
    byron = member(family_name="Lovelace", given_name="Byron")

    # When Byron claims it
    error = refused(byron, ticket_of(flown))

    # Then it is refused for the given name, recorded so, and nothing is credited
    assert error.code == "given_name_mismatch" and "ticket_number" in error.fields
    assert "another given name" in str(error.message)
    claim = RetroClaim.objects.get(member=byron)
    assert (claim.status, claim.refusal) == (ClaimStatus.REFUSED, "given_name_mismatch")
    assert services.refusal_message(claim.refusal) == str(error.message)
    assert not MilesEntry.objects.exists()

    # And Ada herself, as a member, claims it
    ada = member(family_name="Lovelace", given_name="ada")
    assert services.retro_claim_submit(member=ada, ticket_number=ticket_of(flown)).miles == LHR_JFK


@pytest.mark.parametrize("typed", ["", "878123", "87812345678901", "878123456789X", "abc"])
def test_a_malformed_ticket_number_is_refused_and_nothing_is_recorded(typed):
    m = member(family_name="Lovelace")

    error = refused(m, typed)

    assert error.code == "invalid_ticket_number" and "ticket_number" in error.fields
    assert not RetroClaim.objects.exists()


def test_an_unknown_ticket_is_refused_and_recorded():
    m = member(family_name="Lovelace")

    error = refused(m, "8789999999999")

    assert error.code == "unknown_ticket"
    claim = RetroClaim.objects.get()
    assert (claim.status, claim.refusal, claim.miles) == (ClaimStatus.REFUSED, "unknown_ticket", 0)
    assert services.refusal_message(claim.refusal) == str(error.message)


def test_someone_elses_ticket_is_refused_for_the_name():
    # Given a ticket issued to a traveller called Hopper
    m = member(family_name="Lovelace")
    flown = flown_booking(passengers=[traveller(family_name="Hopper")])

    error = refused(m, ticket_of(flown))

    assert error.code == "name_mismatch"
    assert not MilesEntry.objects.exists()


def test_a_flight_not_flown_yet_cannot_be_claimed():
    # Given a ticket for next week's flight
    m = member(family_name="Lovelace")
    booking = ticketed_booking(
        flight=long_haul_flight(departure=timezone.now() + timedelta(days=7)), passengers=[traveller(m, number="")]
    )

    error = refused(m, booking.tickets.get().number)

    assert error.code == "not_flown"
    assert not MilesEntry.objects.exists()


def test_a_flight_older_than_the_claim_period_is_refused():
    # Given a flight of seven months ago (the programme allows six)
    m = member(family_name="Lovelace")
    flown = flown_booking(passengers=[traveller(m, number="")], departure=timezone.now() - timedelta(days=214))

    error = refused(m, ticket_of(flown))

    assert error.code == "too_old"
    assert RetroClaim.objects.get().flight_date == flown.flight.service_date
    assert not MilesEntry.objects.exists()


def test_a_coupon_credited_to_the_number_on_the_booking_cannot_be_claimed_again():
    # Given a traveller whose own number was on the booking and whose flight was credited
    m = member(family_name="Lovelace")
    flown = flown_booking(passengers=[traveller(m)])
    services.miles_accrue_for_flight(flight_id=flown.flight.pk)

    assert refused(m, ticket_of(flown)).code == "already_credited"
    assert MilesEntry.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_claim_racing_the_sweep_credits_the_coupon_once():
    # Given a flown coupon with the member's number on it, never credited (its task was lost)
    m = member(family_name="Racer")
    with accrual_not_announced():
        flown = flown_booking(passengers=[traveller(m)])
    assert not MilesEntry.objects.exists()
    number = ticket_of(flown)
    barrier, outcomes = threading.Barrier(4), []

    def claim() -> None:
        try:
            barrier.wait(timeout=30)
            outcomes.append(services.retro_claim_submit(member=m, ticket_number=number).status)
        except ApplicationError as error:
            outcomes.append(error.code)
        finally:
            connections.close_all()

    def sweep() -> None:
        try:
            barrier.wait(timeout=30)
            outcomes.append(f"swept {services.miles_accrual_sweep()}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=t) for t in (claim, claim, sweep, sweep)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    # Then one credit, whoever won
    assert MilesEntry.objects.filter(member=m).count() == 1
    assert_balance_is_sum(m)
    assert len(outcomes) == 4


# --- The portal page ----------------------------------------------------------------------------------------


@pytest.fixture
def portal_member(make_passenger):
    user, customer = make_passenger("flyer@example.com", family_name="Lovelace", given_name="Ada")
    m = services.member_enrol(customer=customer, channel="portal")
    return user, m


def _client(user):  # noqa: ANN001, ANN202
    from django.test import Client

    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def test_the_claim_page_needs_a_login(client):
    response = client.get(reverse("loyalty_portal:claims"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_a_passenger_who_is_not_a_member_is_told_to_join_and_cannot_claim(passenger_client):
    response = passenger_client.get(reverse("loyalty_portal:claims"))
    assert response.status_code == 200
    assert "Only members" in response.content.decode()
    assert passenger_client.post(reverse("loyalty_portal:claims"), {"ticket_number": "8781234567890"}).status_code == 200
    assert not RetroClaim.objects.exists()


def test_a_member_claims_on_the_portal_and_sees_the_claim_listed(portal_member):
    user, m = portal_member
    flown = flown_booking(passengers=[traveller(m, number="")])
    client = _client(user)

    # Empty state first
    page = client.get(reverse("loyalty_portal:claims")).content.decode()
    assert "You have not claimed any miles yet." in page

    # When the member claims
    response = client.post(reverse("loyalty_portal:claims"), {"ticket_number": ticket_of(flown)}, follow=True)

    # Then they are told the miles were credited, and the claim is listed
    page = response.content.decode()
    assert "3,442 miles were credited" in page
    assert ticket_of(flown) in page and "Credited" in page
    m.refresh_from_db()
    assert m.award_balance == LHR_JFK


def test_a_refused_claim_shows_the_reason_beside_the_field_and_in_the_list(portal_member):
    user, m = portal_member
    client = _client(user)

    response = client.post(reverse("loyalty_portal:claims"), {"ticket_number": "8789999999999"})

    page = response.content.decode()
    assert response.status_code == 200
    assert "We have no e-ticket with this number." in page
    assert "8789999999999" in page and "Refused" in page  # the refused claim is listed
    bad = client.post(reverse("loyalty_portal:claims"), {"ticket_number": "12"}).content.decode()
    assert "13 digits" in bad
    assert RetroClaim.objects.count() == 1


def test_the_claims_page_reads_the_same_queries_for_1_and_12_claims(portal_member, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    user, m = portal_member
    client = _client(user)
    RetroClaim.objects.create(member=m, ticket_number="8780000000001", status=ClaimStatus.REFUSED, refusal="unknown_ticket")
    with CaptureQueriesContext(connection) as one:
        assert client.get(reverse("loyalty_portal:claims")).status_code == 200
    for i in range(11):
        RetroClaim.objects.create(member=m, ticket_number=f"87800000001{i:02d}", status=ClaimStatus.CREDITED, miles=500)
    with CaptureQueriesContext(connection) as twelve:
        page = client.get(reverse("loyalty_portal:claims")).content.decode()
    assert len(twelve) == len(one)
    assert "Page 1 of 2" in page


# --- The API ------------------------------------------------------------------------------------------------


def test_the_api_credits_a_claim_for_the_passengers_own_membership(portal_member, api_as):
    user, m = portal_member
    flown = flown_booking(passengers=[traveller(m, number="")])
    api = api_as(user)

    response = api.post("/api/v1/loyalty/claims/", {"ticket_number": ticket_of(flown)}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["status"] == "credited" and response.json()["miles"] == LHR_JFK
    listed = api.get("/api/v1/loyalty/claims/").json()
    assert [c["ticket_number"] for c in listed["results"]] == [ticket_of(flown)]


def test_the_api_answers_a_refusal_in_the_error_shape(portal_member, api_as):
    user, _m = portal_member
    api = api_as(user)

    unknown = api.post("/api/v1/loyalty/claims/", {"ticket_number": "8789999999999"}, format="json")
    malformed = api.post("/api/v1/loyalty/claims/", {"ticket_number": "12"}, format="json")
    extra = api.post("/api/v1/loyalty/claims/", {"ticket_number": "8789999999999", "member": 1}, format="json")

    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "unknown_ticket"
    assert "ticket_number" in unknown.json()["error"]["fields"]
    assert malformed.status_code == 400 and malformed.json()["error"]["code"] == "invalid_ticket_number"
    assert extra.status_code == 400
    claims = api.get("/api/v1/loyalty/claims/").json()["results"]
    assert [(c["refusal"], c["refusal_message"]) for c in claims] == [("unknown_ticket", "We have no e-ticket with this number.")]


def test_the_api_refuses_a_passenger_without_membership_and_anonymous_callers(passenger, api_as, api_client):
    response = api_as(passenger[0]).post("/api/v1/loyalty/claims/", {"ticket_number": "8789999999999"}, format="json")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_a_member"
    assert api_client.get("/api/v1/loyalty/claims/").status_code == 401
    assert not RetroClaim.objects.exists()


@pytest.mark.parametrize(
    "body",
    [[], "8781234567890", {"ticket_number": 8781234567890}, {"ticket_number": None}, {}, {"ticket_number": "8" * 5000}],
)
def test_malformed_claim_bodies_are_a_400_in_the_error_shape_and_record_nothing(portal_member, api_as, body):
    user, _m = portal_member

    response = api_as(user).post("/api/v1/loyalty/claims/", body, format="json")

    assert response.status_code == 400, response.content
    assert set(response.json()["error"]) == {"code", "message", "fields"}
    assert not RetroClaim.objects.exists()


def test_the_claims_endpoint_answers_with_a_format_suffix_and_refuses_other_methods(portal_member, api_as):
    api = api_as(portal_member[0])
    assert api.get("/api/v1/loyalty/claims.json").status_code == 200
    assert api.delete("/api/v1/loyalty/claims/").status_code == 405
    assert api.put("/api/v1/loyalty/claims/", {}, format="json").status_code == 405
