"""A traveller's frequent flyer number added, corrected or removed on an existing booking: by the service,
on the trip page, at online check-in, by an agent on the booking page and through the API.

Reservations' own tests run without loyalty's hooks: a stand-in check refuses numbers starting with "BAD" and
records the stage it was asked at, so these tests prove the passenger checks run and a refusal changes nothing.
Loyalty's real check (check digit, active member, family name) is tested in tests/loyalty/test_ff_after_booking.py.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from crm.errors import ApplicationError, NotFound
from crm.models import CustomerAccess, TimelineEntry
from reservations import hooks, selectors, services
from reservations.models import Booking, BookingStatus, Channel, CheckIn, Coupon, CouponStatus, Flight, FlightStatus
from tests.reservations.api_support import BOOKINGS, assert_error
from tests.reservations.check_in_helpers import flight_in, ticketed_booking
from tests.reservations.office_support import logged_in

pytestmark = pytest.mark.django_db

STAGES: list[str] = []


def refuse_bad_numbers(*, passenger, booking, stage):  # noqa: ANN001
    """A stand-in for loyalty's check: numbers starting with 'BAD' belong to no member."""
    STAGES.append(stage)
    if passenger.frequent_flyer_number.startswith("BAD"):
        message = f"{passenger.frequent_flyer_number} is not a frequent flyer number."
        raise ApplicationError(message, code="unknown_frequent_flyer", fields={"frequent_flyer_number": [message]})


@pytest.fixture(autouse=True)
def ff_check():
    STAGES.clear()
    hooks.passenger_checks.register("test_ff", refuse_bad_numbers)
    yield
    hooks.passenger_checks.unregister("test_ff")


@pytest.fixture
def trip(make_passenger):
    """Ada (a passenger login) booked for herself and Alan (another login), check-in open; Alan has a number."""
    ada_user, ada = make_passenger("ada@example.com", given_name="Ada", family_name="Lovelace")
    alan_user, alan = make_passenger("alan@example.com", given_name="Alan", family_name="Turing")
    booking = ticketed_booking(
        flight=flight_in(5),
        customer=ada,
        passengers=[
            {"given_name": "Ada", "family_name": "Lovelace", "customer": ada},
            {"given_name": "Alan", "family_name": "Turing", "customer": alan, "frequent_flyer_number": "AU111"},
        ],
    )
    return {
        "booking": booking,
        "ada": booking.passengers.get(sequence=1),
        "alan": booking.passengers.get(sequence=2),
        "ada_user": ada_user,
        "alan_user": alan_user,
    }


def numbers(booking: Booking) -> list[str]:
    return list(booking.passengers.order_by("sequence").values_list("frequent_flyer_number", flat=True))


def entries() -> list[tuple[str, str]]:
    return list(
        TimelineEntry.objects.filter(kind="booking.frequent_flyer_changed")
        .order_by("pk")
        .values_list("customer__given_name", "data__change")
    )


# --- The service --------------------------------------------------------------------------------------


def test_the_booker_adds_a_number_checked_at_the_traveller_update_stage_and_on_both_timelines(trip):
    # when Ada adds a number to her own traveller, typed with blanks around it
    saved = services.passenger_frequent_flyer_set(passenger=trip["ada"], number="  AU222 ", by=trip["ada_user"], channel="portal")

    # then it is saved trimmed, after the passenger checks ran at the new stage
    assert saved.frequent_flyer_number == "AU222"
    assert numbers(trip["booking"]) == ["AU222", "AU111"]
    assert STAGES == [hooks.TRAVELLER_UPDATE]
    # and Ada's timeline (booker and traveller) says so once, with who did it
    entry = TimelineEntry.objects.get(kind="booking.frequent_flyer_changed")
    assert entry.customer == trip["booking"].customer and entry.actor == trip["ada_user"]
    assert entry.data == {
        "record_locator": trip["booking"].record_locator,
        "passenger": 1,
        "change": "added",
        "frequent_flyer_number": "AU222",
        "channel": "portal",
    }
    assert "traveller 1" in entry.summary and "Lovelace" not in entry.summary


def test_the_booker_corrects_and_removes_a_co_travellers_number(trip):
    services.passenger_frequent_flyer_set(passenger=trip["alan"], number="AU333", by=trip["ada_user"], channel="portal")
    assert numbers(trip["booking"]) == ["", "AU333"]
    services.passenger_frequent_flyer_set(passenger=trip["alan"], number="", by=trip["ada_user"], channel="portal")
    assert numbers(trip["booking"]) == ["", ""]
    # each change is on the booker's timeline and the traveller's own
    assert entries() == [("Ada", "changed"), ("Alan", "changed"), ("Ada", "removed"), ("Alan", "removed")]


def test_the_same_number_again_changes_nothing_and_records_nothing(trip):
    services.passenger_frequent_flyer_set(passenger=trip["alan"], number=" AU111", by=trip["ada_user"], channel="portal")
    assert numbers(trip["booking"]) == ["", "AU111"]
    assert STAGES == [] and entries() == []


def test_a_refused_number_changes_nothing_and_names_the_travellers_field(trip):
    with pytest.raises(ApplicationError) as refused:
        services.passenger_frequent_flyer_set(passenger=trip["alan"], number="BAD42", by=trip["ada_user"], channel="portal")
    assert refused.value.code == "unknown_frequent_flyer"
    assert list(refused.value.fields) == ["frequent_flyer_number"]
    assert numbers(trip["booking"]) == ["", "AU111"]
    assert entries() == []


def test_several_travellers_are_all_saved_or_none_and_each_refusal_is_on_its_own_traveller(trip):
    ada, alan = trip["ada"], trip["alan"]
    with pytest.raises(ApplicationError) as refused:
        services.passengers_frequent_flyer_set(
            booking=trip["booking"], numbers={ada.pk: "AU222", alan.pk: "BAD7"}, by=None, channel="portal"
        )
    assert list(refused.value.fields) == [f"passengers.{alan.pk}.frequent_flyer_number"]
    assert numbers(trip["booking"]) == ["", "AU111"]

    services.passengers_frequent_flyer_set(
        booking=trip["booking"], numbers={ada.pk: "AU222", alan.pk: "AU333"}, by=None, channel="portal"
    )
    assert numbers(trip["booking"]) == ["AU222", "AU333"]


def test_a_number_longer_than_the_record_holds_is_refused_not_a_failure(trip):
    with pytest.raises(ApplicationError) as refused:
        services.passenger_frequent_flyer_set(passenger=trip["ada"], number="1" * 21, by=None, channel="portal")
    assert refused.value.code == "invalid_frequent_flyer_number"
    assert list(refused.value.fields) == ["frequent_flyer_number"]


def test_a_co_traveller_changes_their_own_number_but_not_the_bookers(trip):
    # Alan travels on Ada's booking: his own number is his to change
    services.passenger_frequent_flyer_set(passenger=trip["alan"], number="AU444", by=trip["alan_user"], channel="portal")
    assert numbers(trip["booking"]) == ["", "AU444"]
    # Ada's is not
    with pytest.raises(ApplicationError) as refused:
        services.passenger_frequent_flyer_set(passenger=trip["ada"], number="AU555", by=trip["alan_user"], channel="portal")
    assert (refused.value.code, refused.value.status) == ("booker_only", 403)
    assert numbers(trip["booking"]) == ["", "AU444"]


def test_someone_with_no_part_in_the_booking_is_told_it_is_not_found(trip, make_passenger):
    stranger, _customer = make_passenger("eve@example.com")
    with pytest.raises(NotFound):
        services.passenger_frequent_flyer_set(passenger=trip["ada"], number="AU555", by=stranger, channel="portal")
    assert numbers(trip["booking"]) == ["", "AU111"]


def test_staff_need_the_permission_to_change_bookings(trip, agent, analyst):
    services.passenger_frequent_flyer_set(passenger=trip["ada"], number="AU666", by=agent, channel=Channel.AGENT)
    assert numbers(trip["booking"]) == ["AU666", "AU111"]
    assert TimelineEntry.objects.filter(kind="booking.frequent_flyer_changed", actor=agent).exists()
    with pytest.raises(ApplicationError) as refused:
        services.passenger_frequent_flyer_set(passenger=trip["ada"], number="AU777", by=analyst, channel=Channel.AGENT)
    assert (refused.value.code, refused.value.status) == ("forbidden", 403)
    assert numbers(trip["booking"]) == ["AU666", "AU111"]


def test_a_traveller_of_another_booking_is_not_found(trip):
    other = ticketed_booking(passengers=[{"given_name": "Bob", "family_name": "Other"}])
    with pytest.raises(NotFound):
        services.passengers_frequent_flyer_set(
            booking=trip["booking"], numbers={other.passengers.get().pk: "AU1"}, by=None, channel="portal"
        )


@pytest.mark.parametrize(
    ("coupon_status", "flight_status", "code"),
    [
        (CouponStatus.FLOWN, FlightStatus.ARRIVED, "traveller_flown"),
        (CouponStatus.BOARDED, FlightStatus.BOARDING, "traveller_on_board"),
        (CouponStatus.CHECKED_IN, FlightStatus.DEPARTED, "traveller_flown"),
        (CouponStatus.NO_SHOW, FlightStatus.DEPARTED, "traveller_flown"),
    ],
)
def test_a_traveller_with_no_flight_left_or_on_board_is_refused_and_nothing_changes(trip, coupon_status, flight_status, code):
    # given Alan's only flight boarded or flown
    Coupon.objects.filter(ticket__passenger=trip["alan"]).update(status=coupon_status)
    Flight.objects.filter(segments__booking=trip["booking"]).update(status=flight_status)
    # when his number is changed, then it is refused with a reason
    with pytest.raises(ApplicationError) as refused:
        services.passenger_frequent_flyer_set(passenger=trip["alan"], number="AU888", by=trip["ada_user"], channel="portal")
    assert refused.value.code == code
    assert "Alan Turing" in refused.value.message
    assert numbers(trip["booking"]) == ["", "AU111"] and entries() == []


def test_a_checked_in_traveller_whose_flight_is_still_ahead_may_change_it(trip):
    Coupon.objects.filter(ticket__passenger=trip["alan"]).update(status=CouponStatus.CHECKED_IN)
    services.passenger_frequent_flyer_set(passenger=trip["alan"], number="AU999", by=trip["ada_user"], channel="portal")
    assert numbers(trip["booking"]) == ["", "AU999"]


@pytest.mark.parametrize("status", [BookingStatus.CANCELLED, BookingStatus.EXPIRED])
def test_a_cancelled_or_lapsed_booking_is_refused(trip, status):
    Booking.objects.filter(pk=trip["booking"].pk).update(status=status)
    with pytest.raises(ApplicationError) as refused:
        services.passenger_frequent_flyer_set(passenger=trip["ada"], number="AU123", by=trip["ada_user"], channel="portal")
    assert refused.value.code == "booking_inactive"
    assert numbers(trip["booking"]) == ["", "AU111"]


def test_a_held_booking_may_get_its_numbers_before_it_is_paid(make_passenger):
    user, customer = make_passenger("held@example.com", family_name="Hopper")
    booking = ticketed_booking(
        status=BookingStatus.HELD, customer=customer, passengers=[{"given_name": "Grace", "family_name": "Hopper"}]
    )
    services.passenger_frequent_flyer_set(passenger=booking.passengers.get(), number="AU5", by=user, channel="portal")
    assert numbers(booking) == ["AU5"]


def test_the_trip_offers_the_change_for_exactly_the_travellers_the_service_allows(trip):
    booking = selectors.booking_get(record_locator=trip["booking"].record_locator)
    ada, alan = trip["ada"].pk, trip["alan"].pk
    assert selectors.trip_actions(booking=booking, user=trip["ada_user"]).frequent_flyer == {ada, alan}
    assert selectors.trip_actions(booking=booking, user=trip["alan_user"]).frequent_flyer == {alan}
    Coupon.objects.filter(ticket__passenger_id=alan).update(status=CouponStatus.BOARDED)
    assert selectors.trip_actions(booking=booking, user=trip["ada_user"]).frequent_flyer == {ada}


# --- The trip page ------------------------------------------------------------------------------------


def trip_url(booking: Booking) -> str:
    return reverse("reservations_portal:trip", args=[booking.record_locator])


def ff_url(booking: Booking) -> str:
    return reverse("reservations_portal:trip_frequent_flyer", args=[booking.record_locator])


def test_the_trip_page_shows_each_travellers_number_in_one_form_and_saves_it(trip):
    client = logged_in(trip["ada_user"])
    ada, alan = trip["ada"], trip["alan"]
    # given the trip page, with both travellers' fields prefilled
    page = client.get(trip_url(trip["booking"])).content.decode()
    assert "Frequent flyer numbers" in page
    assert f'name="ff_{ada.pk}"' in page and f'name="ff_{alan.pk}"' in page and 'value="AU111"' in page
    # when Ada types hers and leaves Alan's as it is
    response = client.post(ff_url(trip["booking"]), {f"ff_{ada.pk}": "AU222", f"ff_{alan.pk}": "AU111"}, follow=True)
    # then hers is saved and the trip page says so
    assert response.redirect_chain[-1][0] == trip_url(trip["booking"])
    assert "Frequent flyer numbers saved." in response.content.decode()
    assert numbers(trip["booking"]) == ["AU222", "AU111"]
    assert entries() == [("Ada", "added")]


def test_a_refused_number_on_the_trip_page_is_shown_beside_its_field_and_nothing_is_saved(trip):
    client = logged_in(trip["ada_user"])
    ada, alan = trip["ada"], trip["alan"]
    response = client.post(ff_url(trip["booking"]), {f"ff_{ada.pk}": "AU222", f"ff_{alan.pk}": "BAD1"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "BAD1 is not a frequent flyer number." in html
    assert f'href="#id_ff_{alan.pk}"' in html
    assert numbers(trip["booking"]) == ["", "AU111"]


def test_a_trip_form_sent_without_a_travellers_field_leaves_their_number_alone(trip):
    client = logged_in(trip["ada_user"])
    client.post(ff_url(trip["booking"]), {f"ff_{trip['ada'].pk}": "AU222"})
    assert numbers(trip["booking"]) == ["AU222", "AU111"]


def test_a_co_traveller_sees_and_changes_only_their_own_number_on_the_trip_page(trip):
    client = logged_in(trip["alan_user"])
    ada, alan = trip["ada"], trip["alan"]
    page = client.get(trip_url(trip["booking"])).content.decode()
    assert f'name="ff_{alan.pk}"' in page and f'name="ff_{ada.pk}"' not in page
    # a field for Ada slipped into the post is not his to send: it is ignored
    client.post(ff_url(trip["booking"]), {f"ff_{alan.pk}": "AU321", f"ff_{ada.pk}": "AU999"})
    assert numbers(trip["booking"]) == ["", "AU321"]


def test_someone_elses_trip_is_not_found(trip, make_passenger):
    stranger, _customer = make_passenger("eve@example.com")
    response = logged_in(stranger).post(ff_url(trip["booking"]), {f"ff_{trip['ada'].pk}": "AU1"})
    assert response.status_code == 404
    assert numbers(trip["booking"]) == ["", "AU111"]


def test_once_flown_the_trip_page_offers_no_form_and_a_post_is_turned_away(trip):
    Coupon.objects.filter(ticket__booking=trip["booking"]).update(status=CouponStatus.FLOWN)
    client = logged_in(trip["ada_user"])
    assert "Frequent flyer numbers" not in client.get(trip_url(trip["booking"])).content.decode()
    response = client.post(ff_url(trip["booking"]), {f"ff_{trip['ada'].pk}": "AU1"}, follow=True)
    assert "can no longer be changed" in response.content.decode()
    assert numbers(trip["booking"]) == ["", "AU111"]


# --- Online check-in ------------------------------------------------------------------------------------


def check_in_url(booking: Booking) -> str:
    return f"/check-in/{booking.record_locator}/flights/1/"


def check_in_data(booking: Booking, **typed: str) -> dict:
    """Everyone selected with one cabin bag; ``typed`` frequent flyer numbers by given name (else as they are)."""
    data = {"confirm": "on"}
    for p in booking.passengers.all():
        data |= {f"p{p.pk}-selected": "on", f"p{p.pk}-hand_carry": "1"}
        data[f"p{p.pk}-frequent_flyer_number"] = typed.get(p.given_name, p.frequent_flyer_number)
    return data


def found_by_reference(booking: Booking) -> Client:
    client = Client()
    client.post("/check-in/", {"record_locator": booking.record_locator, "family_name": "Lovelace"})
    return client


def test_the_check_in_page_prefills_each_number_and_saves_a_typed_one_before_checking_in(trip):
    client = found_by_reference(trip["booking"])
    page = client.get(check_in_url(trip["booking"])).content.decode()
    assert f'name="p{trip["alan"].pk}-frequent_flyer_number"' in page and 'value="AU111"' in page

    response = client.post(check_in_url(trip["booking"]), check_in_data(trip["booking"], Ada="AU222"))

    assert response.status_code == 302
    assert numbers(trip["booking"]) == ["AU222", "AU111"]
    assert CheckIn.objects.filter(segment__booking=trip["booking"]).count() == 2
    # the new number was checked on its own, then with everyone at check-in
    assert STAGES[0] == hooks.TRAVELLER_UPDATE and hooks.CHECK_IN in STAGES
    # found by reference and name, nobody logged in: the timeline has no actor, the channel says where
    entry = TimelineEntry.objects.get(kind="booking.frequent_flyer_changed")
    assert (entry.actor, entry.data["channel"]) == (None, "portal")


def test_a_refused_number_at_check_in_is_shown_beside_its_field_and_nobody_is_checked_in(trip):
    client = found_by_reference(trip["booking"])
    alan = trip["alan"]
    response = client.post(check_in_url(trip["booking"]), check_in_data(trip["booking"], Ada="AU222", Alan="BAD9"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "BAD9 is not a frequent flyer number." in html
    assert f'href="#id_p{alan.pk}-frequent_flyer_number"' in html
    assert not CheckIn.objects.exists()
    assert numbers(trip["booking"]) == ["", "AU111"]


def test_a_number_gone_bad_since_booking_is_shown_beside_its_field_at_check_in(trip):
    # given Alan's stored number now refused by the check, left as it is in the form
    trip["booking"].passengers.filter(pk=trip["alan"].pk).update(frequent_flyer_number="BAD0")
    client = found_by_reference(trip["booking"])
    response = client.post(check_in_url(trip["booking"]), check_in_data(trip["booking"]))
    html = response.content.decode()
    assert f'href="#id_p{trip["alan"].pk}-frequent_flyer_number"' in html
    assert not CheckIn.objects.exists()
    # and emptying the field removes it, so the party checks in
    response = client.post(check_in_url(trip["booking"]), check_in_data(trip["booking"], Alan=""))
    assert response.status_code == 302 and numbers(trip["booking"]) == ["", ""]


def test_a_check_in_form_sent_without_the_number_field_leaves_the_number_alone(trip):
    client = found_by_reference(trip["booking"])
    data = {k: v for k, v in check_in_data(trip["booking"]).items() if not k.endswith("frequent_flyer_number")}
    assert client.post(check_in_url(trip["booking"]), data).status_code == 302
    assert numbers(trip["booking"]) == ["", "AU111"] and entries() == []


def test_a_logged_in_co_traveller_sets_their_own_number_at_check_in(trip):
    client = logged_in(trip["alan_user"])
    alan = trip["alan"]
    page = client.get(check_in_url(trip["booking"])).content.decode()
    assert f'name="p{trip["ada"].pk}-frequent_flyer_number"' not in page
    data = {
        "confirm": "on",
        f"p{alan.pk}-selected": "on",
        f"p{alan.pk}-hand_carry": "1",
        f"p{alan.pk}-frequent_flyer_number": "AU246",
    }
    assert client.post(check_in_url(trip["booking"]), data).status_code == 302
    assert numbers(trip["booking"]) == ["", "AU246"]
    assert TimelineEntry.objects.filter(kind="booking.frequent_flyer_changed", actor=trip["alan_user"]).count() == 2


# --- The office booking page ----------------------------------------------------------------------------


def office_url(booking: Booking) -> str:
    return reverse("reservations_office:booking_frequent_flyer", args=[booking.record_locator])


def booking_page(booking: Booking) -> str:
    return reverse("reservations_office:booking_detail", args=[booking.record_locator])


def test_an_agent_sets_a_number_on_the_booking_page_audited_with_their_name(trip, agent):
    client = logged_in(agent)
    page = client.get(booking_page(trip["booking"])).content.decode()
    assert f'name="ff_{trip["ada"].pk}"' in page
    response = client.post(office_url(trip["booking"]), {f"ff_{trip['ada'].pk}": "AU135", f"ff_{trip['alan'].pk}": "AU111"})
    assert response.status_code == 302 and response["Location"] == booking_page(trip["booking"])
    assert numbers(trip["booking"]) == ["AU135", "AU111"]
    entry = TimelineEntry.objects.get(kind="booking.frequent_flyer_changed")
    assert (entry.actor, entry.data["channel"]) == (agent, "agent")
    # the agent's look at the customers on the booking is in the access log, as on every booking page
    assert CustomerAccess.objects.filter(user=agent, view_name="reservations_office:booking_frequent_flyer").exists()


def test_a_refused_number_on_the_booking_page_is_shown_beside_its_field(trip, agent):
    response = logged_in(agent).post(office_url(trip["booking"]), {f"ff_{trip['ada'].pk}": "BAD3"})
    assert response.status_code == 200
    assert "BAD3 is not a frequent flyer number." in response.content.decode()
    assert numbers(trip["booking"]) == ["", "AU111"]


def test_staff_who_may_not_change_bookings_see_no_form_and_are_refused_on_the_server(trip, analyst):
    # an analyst also allowed to open bookings with their travellers, but not to change them
    analyst.user_permissions.add(Permission.objects.get(codename="view_bookingpassenger", content_type__app_label="reservations"))
    client = logged_in(analyst)
    response = client.get(booking_page(trip["booking"]))
    assert response.status_code == 200
    assert f'name="ff_{trip["ada"].pk}"' not in response.content.decode()
    assert client.post(office_url(trip["booking"]), {f"ff_{trip['ada'].pk}": "AU1"}).status_code == 403
    assert numbers(trip["booking"]) == ["", "AU111"]


@pytest.mark.parametrize("who", ["marketer", "analyst"])
def test_other_roles_cannot_post_to_the_booking_page(trip, who, request):
    response = logged_in(request.getfixturevalue(who)).post(office_url(trip["booking"]), {f"ff_{trip['ada'].pk}": "AU1"})
    assert response.status_code == 403
    assert numbers(trip["booking"]) == ["", "AU111"]


# --- The API ----------------------------------------------------------------------------------------


def passenger_url(booking: Booking, sequence: int | str) -> str:
    return f"{BOOKINGS}{booking.record_locator}/passengers/{sequence}/"


def test_the_api_changes_a_travellers_number(trip, api_as):
    response = api_as(trip["ada_user"]).patch(
        passenger_url(trip["booking"], 2), {"frequent_flyer_number": "AU2468"}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["sequence"], body["given_name"], body["frequent_flyer_number"]) == (2, "Alan", "AU2468")
    assert numbers(trip["booking"]) == ["", "AU2468"]


def test_the_api_removes_a_number_with_an_empty_string(trip, api_as):
    response = api_as(trip["ada_user"]).patch(passenger_url(trip["booking"], 2), {"frequent_flyer_number": ""}, format="json")
    assert response.status_code == 200 and response.json()["frequent_flyer_number"] == ""
    assert numbers(trip["booking"]) == ["", ""]


def test_the_api_refuses_a_bad_number_naming_the_field(trip, api_as):
    response = api_as(trip["ada_user"]).patch(passenger_url(trip["booking"], 2), {"frequent_flyer_number": "BAD5"}, format="json")
    error = assert_error(response, 400, "unknown_frequent_flyer")
    assert list(error["fields"]) == ["frequent_flyer_number"]
    assert numbers(trip["booking"]) == ["", "AU111"]


@pytest.mark.parametrize(
    "body",
    [{"frequent_flyer_number": None}, {"frequent_flyer_number": 12345}, {"frequent_flyer_number": "1" * 21}, {"other": "x"}, []],
)
def test_the_api_refuses_malformed_input_with_400(trip, api_as, body):
    response = api_as(trip["ada_user"]).patch(passenger_url(trip["booking"], 1), body, format="json")
    assert_error(response, 400)
    assert numbers(trip["booking"]) == ["", "AU111"]


def test_the_api_leaves_a_traveller_as_they_are_when_nothing_is_sent(trip, api_as):
    response = api_as(trip["ada_user"]).patch(passenger_url(trip["booking"], 2), {}, format="json")
    assert response.status_code == 200 and response.json()["frequent_flyer_number"] == "AU111"
    assert entries() == []
    # and nothing sent is still someone else's traveller for a co-traveller
    assert_error(api_as(trip["alan_user"]).patch(passenger_url(trip["booking"], 1), {}, format="json"), 403, "booker_only")


def test_the_api_says_which_traveller_cannot_be_changed_any_more(trip, api_as):
    Coupon.objects.filter(ticket__passenger=trip["alan"]).update(status=CouponStatus.FLOWN)
    response = api_as(trip["ada_user"]).patch(passenger_url(trip["booking"], 2), {"frequent_flyer_number": "AU1"}, format="json")
    assert_error(response, 400, "traveller_flown")


def test_another_customers_booking_is_404_and_a_co_travellers_other_traveller_403(trip, api_as, make_passenger):
    stranger, _customer = make_passenger("eve@example.com")
    body = {"frequent_flyer_number": "AU1"}
    assert_error(api_as(stranger).patch(passenger_url(trip["booking"], 1), body, format="json"), 404)
    assert_error(api_as(trip["alan_user"]).patch(passenger_url(trip["booking"], 1), body, format="json"), 403, "booker_only")
    assert api_as(trip["alan_user"]).patch(passenger_url(trip["booking"], 2), body, format="json").status_code == 200
    assert numbers(trip["booking"]) == ["", "AU1"]


@pytest.mark.parametrize("sequence", ["3", "0", "99999999999999999999999"])
def test_no_such_passenger_is_404(trip, api_as, sequence):
    response = api_as(trip["ada_user"]).patch(
        passenger_url(trip["booking"], sequence), {"frequent_flyer_number": "AU1"}, format="json"
    )
    assert_error(response, 404)


def test_staff_need_the_change_permission_through_the_api(trip, api_as, agent, analyst):
    body = {"frequent_flyer_number": "AU77"}
    assert_error(api_as(analyst).patch(passenger_url(trip["booking"], 1), body, format="json"), 403)
    assert api_as(agent).patch(passenger_url(trip["booking"], 1), body, format="json").status_code == 200
    assert numbers(trip["booking"]) == ["AU77", "AU111"]


def check_in_body(**extra) -> dict:  # noqa: ANN003
    return {"segment": 1, "passengers": [1, 2], **extra}


def test_the_api_check_in_saves_the_numbers_sent_with_it_first(trip, api_as):
    body = check_in_body(frequent_flyer_numbers=[{"passenger": 1, "frequent_flyer_number": "AU100"}])
    response = api_as(trip["ada_user"]).post(f"{BOOKINGS}{trip['booking'].record_locator}/check-in/", body, format="json")
    assert response.status_code == 201, response.content
    assert numbers(trip["booking"]) == ["AU100", "AU111"]
    assert CheckIn.objects.count() == 2


def test_the_api_check_in_refuses_a_bad_number_under_its_entry_and_checks_nobody_in(trip, api_as):
    body = check_in_body(
        frequent_flyer_numbers=[
            {"passenger": 1, "frequent_flyer_number": "AU100"},
            {"passenger": 2, "frequent_flyer_number": "BAD2"},
        ]
    )
    response = api_as(trip["ada_user"]).post(f"{BOOKINGS}{trip['booking'].record_locator}/check-in/", body, format="json")
    error = assert_error(response, 400, "unknown_frequent_flyer")
    assert list(error["fields"]) == ["frequent_flyer_numbers.1.frequent_flyer_number"]
    assert not CheckIn.objects.exists()
    assert numbers(trip["booking"]) == ["", "AU111"]


def test_the_api_check_in_names_a_stored_number_refused_by_the_travellers_place_in_the_request(trip, api_as):
    # given Alan's stored number refused by the check since booking
    trip["booking"].passengers.filter(pk=trip["alan"].pk).update(frequent_flyer_number="BAD0")
    # when the party checks in, Alan listed second
    response = api_as(trip["ada_user"]).post(
        f"{BOOKINGS}{trip['booking'].record_locator}/check-in/", check_in_body(), format="json"
    )
    # then the refusal names his place in the request, not a database id
    error = assert_error(response, 400, "unknown_frequent_flyer")
    assert list(error["fields"]) == ["passengers.1"]
    assert not CheckIn.objects.exists()


def test_a_co_traveller_cannot_send_someone_elses_number_at_check_in(trip, api_as):
    body = {"segment": 1, "passengers": [2], "frequent_flyer_numbers": [{"passenger": 1, "frequent_flyer_number": "AU1"}]}
    response = api_as(trip["alan_user"]).post(f"{BOOKINGS}{trip['booking'].record_locator}/check-in/", body, format="json")
    error = assert_error(response, 400)
    assert list(error["fields"]) == ["frequent_flyer_numbers.0.passenger"]
    assert numbers(trip["booking"]) == ["", "AU111"] and not CheckIn.objects.exists()
