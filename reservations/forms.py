"""Forms of the passenger portal and the back-office for flights, bookings and check-in."""

import datetime as _dt
import re
import uuid
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_countries import countries
from django_countries.fields import LazyTypedChoiceField

from crm.models import AssistanceCode, Cabin, Customer, MealCode, Title, TravelPurpose
from reservations import hooks
from reservations.models import DocumentType, FlightStatus, PassengerType, TripType

# --- Portal -----------------------------------------------------------------------------------


MAX_PARTY_SEATS = 9
# Legs a multi-city search may have (the booking itself allows up to six flights).
MULTI_CITY_LEGS = 4
SEARCH_HORIZON_DAYS = 361
SORT_CHOICES = (("price", _("Lowest price")), ("departure", _("Departure time")), ("duration", _("Shortest duration")))
DATE_WIDGET = {"widget": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}


def portal_cabin_choices() -> list[tuple[str, str]]:
    """Cabins, with "Business" translated as a cabin rather than as a purpose of travel."""
    labels = {Cabin.BUSINESS: pgettext_lazy("cabin", "Business")}
    return [(value, labels.get(value, label)) for value, label in Cabin.choices]


def _meal_choices() -> list[tuple[str, str]]:
    return [("", _("No special meal")), *((code, format_lazy("{} ({})", label, code)) for code, label in MealCode.choices)]


def _assistance_choices() -> list[tuple[str, str]]:
    return [(code, format_lazy("{} ({})", label, code)) for code, label in AssistanceCode.choices]


def _country_choices() -> list[tuple[str, str]]:
    return [("", _("Not specified")), *countries]


class FlightSearchForm(forms.Form):
    """One-way, return or multi-city: the legs, the party and the cabin; read from the query string."""

    trip_type = forms.ChoiceField(
        label=_("Trip"), choices=TripType.choices, initial=TripType.ROUND_TRIP, widget=forms.RadioSelect
    )
    origin = forms.ChoiceField(label=_("From"))
    destination = forms.ChoiceField(label=_("To"))
    departure_date = forms.DateField(label=_("Departure date"), **DATE_WIDGET)
    return_date = forms.DateField(label=_("Return date"), required=False, help_text=_("For a return trip."), **DATE_WIDGET)
    adults = forms.IntegerField(label=_("Adults (12+)"), min_value=1, max_value=MAX_PARTY_SEATS, initial=1)
    children = forms.IntegerField(label=_("Children (2-11)"), min_value=0, max_value=MAX_PARTY_SEATS - 1, initial=0)
    infants = forms.IntegerField(
        label=_("Infants (under 2)"), min_value=0, max_value=MAX_PARTY_SEATS, initial=0,
        help_text=_("Infants travel on an adult's lap."),
    )  # fmt: skip
    cabin = forms.ChoiceField(label=_("Cabin"), choices=portal_cabin_choices, initial=Cabin.ECONOMY)
    sort = forms.ChoiceField(label=_("Sort by"), choices=SORT_CHOICES, required=False, initial="price")

    def __init__(self, *args, airports: list[tuple[str, str]] = (), **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        airport_choices = [("", _("Choose an airport")), *airports]
        self.fields["origin"].choices = airport_choices
        self.fields["destination"].choices = airport_choices
        for n in range(2, MULTI_CITY_LEGS + 1):
            self.fields[f"origin_{n}"] = forms.ChoiceField(
                label=format_lazy(_("Flight {n}: from"), n=n), choices=airport_choices, required=False
            )
            self.fields[f"destination_{n}"] = forms.ChoiceField(
                label=format_lazy(_("Flight {n}: to"), n=n), choices=airport_choices, required=False
            )
            self.fields[f"date_{n}"] = forms.DateField(
                label=format_lazy(_("Flight {n}: date"), n=n), required=False, **DATE_WIDGET
            )

    @property
    def multi_city_fields(self) -> list[list[forms.BoundField]]:
        return [[self[f"origin_{n}"], self[f"destination_{n}"], self[f"date_{n}"]] for n in range(2, MULTI_CITY_LEGS + 1)]

    def _check_date(self, name: str, day: _dt.date | None) -> None:
        today = timezone.localdate()
        if day and day < today:
            self.add_error(name, _("Choose today or a later date."))
        elif day and day > today + _dt.timedelta(days=SEARCH_HORIZON_DAYS):
            self.add_error(name, _("We sell flights up to a year ahead."))

    def clean(self) -> dict:
        data = super().clean()
        trip_type = data.get("trip_type")
        if data.get("origin") and data.get("origin") == data.get("destination"):
            self.add_error("destination", _("Choose a destination different from the departure airport."))
        self._check_date("departure_date", data.get("departure_date"))
        if trip_type == TripType.ROUND_TRIP:
            back = data.get("return_date")
            if not back:
                self.add_error("return_date", _("Choose the date of the return flight."))
            elif data.get("departure_date") and back < data["departure_date"]:
                self.add_error("return_date", _("The return cannot be before the departure."))
            else:
                self._check_date("return_date", back)
        if trip_type == TripType.MULTI_CITY:
            previous = data.get("departure_date")
            legs = 1
            for n in range(2, MULTI_CITY_LEGS + 1):
                o, d, day = data.get(f"origin_{n}"), data.get(f"destination_{n}"), data.get(f"date_{n}")
                if not (o or d or day):
                    continue
                legs += 1
                if not o:
                    self.add_error(f"origin_{n}", _("Choose the departure airport of this flight."))
                if not d:
                    self.add_error(f"destination_{n}", _("Choose the destination of this flight."))
                elif o == d:
                    self.add_error(f"destination_{n}", _("Choose a destination different from the departure airport."))
                if not day:
                    self.add_error(f"date_{n}", _("Choose the date of this flight."))
                else:
                    self._check_date(f"date_{n}", day)
                    if previous and day < previous:
                        self.add_error(f"date_{n}", _("Each flight must be on or after the date of the one before."))
                    previous = day
            if legs < 2:
                self.add_error("origin_2", _("A multi-city trip has at least two flights."))
        adults, children, infants = data.get("adults"), data.get("children"), data.get("infants")
        if adults is not None and children is not None and adults + children > MAX_PARTY_SEATS:
            self.add_error("children", _("At most 9 seats per booking (adults and children)."))
        if adults is not None and infants is not None and infants > adults:
            self.add_error("infants", _("Each infant travels on the lap of an adult: no more infants than adults."))
        return data

    def legs(self) -> list[tuple[str, str, _dt.date]]:
        """(origin, destination, date) of every flight asked for, in order."""
        data = self.cleaned_data
        legs = [(data["origin"], data["destination"], data["departure_date"])]
        if data["trip_type"] == TripType.ROUND_TRIP:
            legs.append((data["destination"], data["origin"], data["return_date"]))
        elif data["trip_type"] == TripType.MULTI_CITY:
            for n in range(2, MULTI_CITY_LEGS + 1):
                if data.get(f"origin_{n}") and data.get(f"destination_{n}") and data.get(f"date_{n}"):
                    legs.append((data[f"origin_{n}"], data[f"destination_{n}"], data[f"date_{n}"]))
        return legs

    def leg_date_field(self, index: int) -> str:
        """The query-string name of the date of leg ``index`` (0-based), for the price calendar's links."""
        if index == 0:
            return "departure_date"
        if self.cleaned_data["trip_type"] == TripType.ROUND_TRIP:
            return "return_date"
        filled = [n for n in range(2, MULTI_CITY_LEGS + 1) if self.cleaned_data.get(f"date_{n}")]
        return f"date_{filled[index - 1]}"


class PassengerForm(forms.Form):
    """One traveller as in the travel document; the type is fixed by the search, not by the form."""

    title = forms.ChoiceField(label=_("Title"), required=False)
    given_name = forms.CharField(label=_("Given name"), max_length=100)
    family_name = forms.CharField(label=_("Family name"), max_length=100)
    date_of_birth = forms.DateField(label=_("Date of birth"), required=False, **DATE_WIDGET)
    nationality = LazyTypedChoiceField(label=_("Nationality"), choices=_country_choices, required=False)
    document_type = forms.ChoiceField(
        label=_("Travel document"), choices=[("", _("Add later")), *DocumentType.choices], required=False
    )
    document_number = forms.CharField(
        label=_("Document number"), max_length=40, required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )  # fmt: skip
    document_expiry = forms.DateField(label=_("Document expiry"), required=False, **DATE_WIDGET)
    document_country = LazyTypedChoiceField(label=_("Issuing country"), choices=_country_choices, required=False)
    meal = forms.ChoiceField(label=_("Special meal"), choices=_meal_choices, required=False)
    assistance = forms.MultipleChoiceField(
        label=_("Assistance needed"), choices=_assistance_choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    frequent_flyer_number = forms.CharField(label=_("Frequent flyer number"), max_length=20, required=False)

    def __init__(self, *args, passenger_type: str, number: int, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.passenger_type = passenger_type
        self.number = number
        self.fields["title"].choices = [("", _("Not specified")), *Title.choices]
        if passenger_type != PassengerType.ADULT:
            self.fields["date_of_birth"].required = True
        if passenger_type == PassengerType.INFANT:
            del self.fields["frequent_flyer_number"]
        for name, field in self.fields.items():
            field.widget.attrs.setdefault("autocomplete", "off")
            if name == "given_name":
                field.widget.attrs["autocomplete"] = "given-name" if number == 1 else "off"
            if name == "family_name":
                field.widget.attrs["autocomplete"] = "family-name" if number == 1 else "off"

    @property
    def type_label(self) -> str:
        return PassengerType(self.passenger_type).label

    def clean_document_number(self) -> str:
        return "".join((self.cleaned_data.get("document_number") or "").split()).upper()

    def clean(self) -> dict:
        data = super().clean()
        if data.get("document_number") and not data.get("document_type"):
            self.add_error("document_type", _("Choose the kind of travel document."))
        if data.get("document_type") and not data.get("document_number"):
            self.add_error("document_number", _("Enter the document number, or choose to add the document later."))
        return data


class BookingContactForm(forms.Form):
    contact_email = forms.EmailField(
        label=_("E-mail for the e-tickets"), max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    contact_phone = forms.CharField(
        label=_("Phone for travel updates"), max_length=30, required=False,
        help_text=_("International format starting with + and the country code, e.g. +44 20 7946 0958."),
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}),
    )  # fmt: skip
    purpose = forms.ChoiceField(
        label=_("Purpose of travel"), choices=[("", _("Not specified")), *TravelPurpose.choices], required=False
    )
    discount_code = forms.CharField(
        label=_("Discount code"), max_length=20, required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )  # fmt: skip

    def clean_contact_phone(self) -> str:
        phone = (self.cleaned_data.get("contact_phone") or "").strip()
        if phone:
            import phonenumbers

            try:
                parsed = phonenumbers.parse(phone, None)
            except phonenumbers.NumberParseException:
                parsed = None
            if parsed is None or not phonenumbers.is_valid_number(parsed):
                raise ValidationError(_("Enter the phone number in international format, e.g. +44 20 7946 0958."))
            phone = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        return phone


class BookingOptionsForm(forms.Form):
    """The tick boxes downstream apps add to the booking form (``reservations.hooks.booking_options``)."""

    PREFIX = "option_"

    def __init__(self, *args, options: list[tuple[str, str]], **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        for name, label in options:
            self.fields[f"{self.PREFIX}{name}"] = forms.BooleanField(label=label, required=False)

    def ticked(self) -> dict[str, bool]:
        return {name.removeprefix(self.PREFIX): bool(value) for name, value in self.cleaned_data.items()}


def passenger_initial(customer: Customer, *, with_passport: bool) -> dict[str, Any]:
    """The passenger form filled from a customer record: name, birth, nationality, meal and assistance,
    what downstream apps keep for them as a traveller (``hooks.traveller_defaults``: a frequent flyer
    number), and the passport on file when `with_passport` (the passenger's own booking)."""
    initial: dict[str, Any] = {
        "title": customer.title,
        "given_name": customer.given_name,
        "family_name": customer.family_name,
        "date_of_birth": customer.date_of_birth,
        "nationality": str(customer.nationality or ""),
        "meal": customer.meal_preference,
        "assistance": list(customer.special_assistance),
    }
    initial.update(hooks.traveller_defaults_for(customer=customer))  # e.g. the member's frequent flyer number
    if with_passport and customer.passport_number:
        initial.update(
            document_type="P",
            document_number=customer.passport_number,
            document_expiry=customer.passport_expiry,
            document_country=str(customer.passport_country or ""),
        )
    return initial


def new_payment_key(record_locator: str) -> str:
    """One key per rendered payment form: submitting that form twice can only charge once."""
    return f"portal-{record_locator}-{uuid.uuid4().hex}"


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


class NeverRenderedInput(forms.TextInput):
    """A text box that never writes its value back into the page (card numbers)."""

    def format_value(self, value: object) -> None:
        return None


class CardPaymentForm(forms.Form):
    """Card details go to the gateway only; nothing here is stored or rendered back."""

    number = forms.CharField(
        label=_("Card number"), max_length=23,
        widget=NeverRenderedInput(attrs={"autocomplete": "cc-number", "inputmode": "numeric", "spellcheck": "false"}),
    )  # fmt: skip
    expiry = forms.CharField(
        label=_("Expiry date (MM/YY)"), max_length=7,
        widget=forms.TextInput(attrs={"autocomplete": "cc-exp", "inputmode": "numeric", "placeholder": "MM/YY"}),
    )  # fmt: skip
    cvv = forms.CharField(
        label=_("Security code (CVV)"), max_length=4, min_length=3,
        help_text=_("The 3 or 4 digits on the back of the card."),
        widget=forms.PasswordInput(attrs={"autocomplete": "cc-csc", "inputmode": "numeric"}),
    )  # fmt: skip
    holder = forms.CharField(
        label=_("Name on the card"), max_length=100, widget=forms.TextInput(attrs={"autocomplete": "cc-name"})
    )
    idempotency_key = forms.CharField(max_length=100, widget=forms.HiddenInput)

    def __init__(self, *args, record_locator: str, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.record_locator = record_locator

    def clean_number(self) -> str:
        digits = re.sub(r"[\s-]", "", self.cleaned_data["number"])
        if not digits.isdigit() or not 12 <= len(digits) <= 19 or not _luhn_ok(digits):
            raise ValidationError(_("Check the card number: it is not a valid card number."))
        return digits

    def clean_expiry(self) -> tuple[int, int]:
        match = re.fullmatch(r"\s*(\d{1,2})\s*/\s*(\d{2}|\d{4})\s*", self.cleaned_data["expiry"])
        if not match or not 1 <= int(match.group(1)) <= 12:
            raise ValidationError(_("Enter the expiry date as MM/YY, e.g. 08/29."))
        month, year = int(match.group(1)), int(match.group(2))
        year = year + 2000 if year < 100 else year
        today = timezone.localdate()
        if (year, month) < (today.year, today.month):
            raise ValidationError(_("This card has expired."))
        return month, year

    def clean_cvv(self) -> str:
        cvv = self.cleaned_data["cvv"].strip()
        if not cvv.isdigit():
            raise ValidationError(_("The security code is 3 or 4 digits."))
        return cvv

    def clean_idempotency_key(self) -> str:
        key = self.cleaned_data["idempotency_key"]
        if not re.fullmatch(rf"portal-{self.record_locator}-[0-9a-f]{{32}}", key):
            raise ValidationError(_("This payment form is out of date; please enter the card details again."))
        return key


class MethodPaymentForm(forms.Form):
    """Paying with a method another app hooks in (miles): nothing to type, only the one-time key."""

    idempotency_key = forms.CharField(max_length=100, widget=forms.HiddenInput)

    def __init__(self, *args, record_locator: str, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.record_locator = record_locator

    def clean_idempotency_key(self) -> str:
        key = self.cleaned_data["idempotency_key"]
        if not re.fullmatch(rf"portal-{self.record_locator}-[0-9a-f]{{32}}", key):
            raise ValidationError(_("This payment form is out of date; please try again."))
        return key


class ChangeDateForm(forms.Form):
    date = forms.DateField(label=_("New date"), **DATE_WIDGET)


class CancelBookingForm(forms.Form):
    confirm = forms.BooleanField(label=_("Yes, cancel this booking"), required=True)


class CheckInLookupForm(forms.Form):
    """Find a booking to check in without logging in: the reference and a traveller's family name."""

    record_locator = forms.CharField(
        label=_("Booking reference"), max_length=12, help_text=_("6 letters and digits, e.g. K7QX2M."),
        widget=forms.TextInput(attrs={"autocapitalize": "characters", "spellcheck": "false", "autocomplete": "off"}),
    )  # fmt: skip
    family_name = forms.CharField(
        label=_("Family name"), max_length=100, widget=forms.TextInput(attrs={"autocomplete": "family-name"})
    )

    def clean_record_locator(self) -> str:
        locator = "".join(self.cleaned_data["record_locator"].split()).upper()
        if not re.fullmatch(r"[A-Z0-9]{6}", locator):
            raise ValidationError(_("A booking reference is 6 letters and digits."))
        return locator


MAX_BAGS = 3
MAX_HAND_CARRY = 2


FREQUENT_FLYER_MAX = 20


def frequent_flyer_field(*, initial: str = "", label: Any = None) -> forms.CharField:
    """A traveller's frequent flyer number on an existing booking, prefilled; emptied, it is removed."""
    return forms.CharField(
        label=label or _("Frequent flyer number"), max_length=FREQUENT_FLYER_MAX, required=False, initial=initial,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )  # fmt: skip


def _typed_number(typed: str | None) -> str:
    return (typed or "").strip()


class CheckInPassengerForm(forms.Form):
    """One traveller's check-in: whether to check them in now, their bags and hand-carry items, and (with
    ``frequent_flyer``) their frequent flyer number, saved before they are checked in."""

    selected = forms.BooleanField(label=_("Check in"), required=False, initial=True)
    hand_carry = forms.IntegerField(label=_("Cabin bags"), min_value=0, max_value=MAX_HAND_CARRY, initial=1)

    def __init__(self, *args, passenger, frequent_flyer: bool = False, **kwargs) -> None:  # noqa: ANN001, ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.passenger = passenger
        for n in range(1, MAX_BAGS + 1):
            self.fields[f"bag_{n}"] = forms.DecimalField(
                label=format_lazy(_("Checked bag {n}: weight (kg)"), n=n),
                required=False, min_value=Decimal("0.5"), max_value=Decimal("32"), decimal_places=1,
                widget=forms.NumberInput(attrs={"step": "0.5", "inputmode": "decimal"}),
            )  # fmt: skip
        if frequent_flyer:
            self.fields["frequent_flyer_number"] = frequent_flyer_field(initial=passenger.frequent_flyer_number)

    def frequent_flyer_change(self) -> str | None:
        """The number typed, when it is not the one the traveller has (None: nothing to save). A field not
        sent at all changes nothing: only an emptied one removes the number."""
        if "frequent_flyer_number" not in self.fields or self.add_prefix("frequent_flyer_number") not in self.data:
            return None
        typed = _typed_number(self.cleaned_data.get("frequent_flyer_number"))
        return None if typed == self.passenger.frequent_flyer_number else typed

    @property
    def bag_fields(self) -> list[forms.BoundField]:
        return [self[f"bag_{n}"] for n in range(1, MAX_BAGS + 1)]

    def bag_weights(self) -> list[Decimal]:
        return [self.cleaned_data[f"bag_{n}"] for n in range(1, MAX_BAGS + 1) if self.cleaned_data.get(f"bag_{n}")]


class FrequentFlyerNumbersForm(forms.Form):
    """Each traveller's frequent flyer number on an existing booking, one field per traveller named after
    them, prefilled; an emptied field removes the number."""

    def __init__(self, *args, passengers, **kwargs) -> None:  # noqa: ANN001, ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.passengers = {p.pk: p for p in passengers}
        for p in passengers:
            self.fields[f"ff_{p.pk}"] = frequent_flyer_field(initial=p.frequent_flyer_number, label=p.full_name)

    def changes(self) -> dict[int, str]:
        """The numbers typed that differ from the travellers' own, by passenger id; a field not sent at all
        changes nothing (only an emptied one removes the number)."""
        typed = {
            pk: _typed_number(self.cleaned_data.get(f"ff_{pk}"))
            for pk in self.passengers
            if self.add_prefix(f"ff_{pk}") in self.data
        }
        return {pk: number for pk, number in typed.items() if number != self.passengers[pk].frequent_flyer_number}

    def place(self, key: str) -> tuple[forms.Form, str] | None:
        """Where a refusal of ``passengers.<id>.frequent_flyer_number`` (or ``passengers.<id>``) goes: that field."""
        parts = key.split(".")
        if parts[0] == "passengers" and len(parts) in (2, 3) and parts[1].isdigit() and f"ff_{parts[1]}" in self.fields:
            return self, f"ff_{parts[1]}"
        return None


class DangerousGoodsForm(forms.Form):
    confirm = forms.BooleanField(
        label=_(
            "I confirm that no one in this party carries dangerous goods, such as explosives, flammable liquids or spare lithium batteries in checked bags."
        ),
        required=True,
    )


class SeatChoiceForm(forms.Form):
    """Which traveller takes which seat; the seats offered are the free ones on the drawn map."""

    passenger = forms.TypedChoiceField(label=_("Traveller"), coerce=int)
    seat = forms.ChoiceField(label=_("Seat"), widget=forms.RadioSelect)

    def __init__(self, *args, passengers: list[tuple[int, str]], seats: list[str], **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.fields["passenger"].choices = passengers
        self.fields["seat"].choices = [(s, s) for s in seats]
        self.fields["seat"].error_messages["invalid_choice"] = _("This seat is not free; choose another one.")


class FlightStatusForm(forms.Form):
    flight_code = forms.CharField(
        label=_("Flight number"), max_length=8, help_text=_("e.g. AU101"),
        widget=forms.TextInput(attrs={"autocapitalize": "characters", "spellcheck": "false"}),
    )  # fmt: skip
    service_date = forms.DateField(label=_("Date of departure"), **DATE_WIDGET)

    def clean_flight_code(self) -> str:
        code = "".join(self.cleaned_data["flight_code"].split()).upper()
        if not re.fullmatch(r"(?:[A-Z]{2,3}|[A-Z][0-9]|[0-9][A-Z])?[0-9]{1,4}", code):
            raise ValidationError(_("Enter the airline code and number, e.g. AU101."))
        return code


# --- Office -----------------------------------------------------------------------------------


OFFICE_PAYMENT_KEY = re.compile(r"office-[A-Z0-9]{6}-[0-9a-f]{32}")


def new_office_payment_key(record_locator: str) -> str:
    """One key per rendered payment form: a double click or a resubmitted page charges once."""
    return f"office-{record_locator}-{uuid.uuid4().hex}"


class OfficeBookingSearchForm(forms.Form):
    q = forms.CharField(
        label=_("Booking reference, e-ticket number or passenger name"), max_length=100, required=False,
        widget=forms.TextInput(attrs={"type": "search", "spellcheck": "false", "autocomplete": "off"}),
    )  # fmt: skip


class OfficeFlightDayForm(forms.Form):
    day = forms.DateField(label=_("Date"), required=False, **DATE_WIDGET)
    origin = forms.CharField(
        label=_("From (IATA code)"), max_length=3, required=False,
        widget=forms.TextInput(attrs={"size": 4, "autocapitalize": "characters", "spellcheck": "false"}),
    )  # fmt: skip

    def clean_origin(self) -> str:
        code = self.cleaned_data["origin"].strip().upper()
        if code and not re.fullmatch(r"[A-Z0-9]{3}", code):
            raise ValidationError(_("An airport code is 3 letters, e.g. LHR."))
        return code


class OfficeFlightStatusForm(forms.Form):
    """What the operations agent knows: a new time, a gate, a cancellation, with the reason passengers read.

    The new time is typed as the clock at the departure airport reads.
    """

    status = forms.ChoiceField(label=_("Status"))
    estimated_departure = forms.DateTimeField(
        label=_("New departure time (local)"), required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )  # fmt: skip
    gate = forms.CharField(label=_("Gate"), max_length=8, required=False)
    reason = forms.CharField(label=_("Reason"), max_length=200, required=False)

    def __init__(self, *args, flight, **kwargs) -> None:  # noqa: ANN001, ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.flight = flight
        self.zone = ZoneInfo(flight.origin.time_zone)
        self.fields["status"].choices = [(v, label) for v, label in FlightStatus.choices if v != FlightStatus.ARRIVED]
        self.fields["status"].initial = flight.status
        self.fields["gate"].initial = flight.gate
        if flight.estimated_departure:
            self.fields["estimated_departure"].initial = flight.estimated_departure.astimezone(self.zone).replace(tzinfo=None)

    def clean_estimated_departure(self) -> _dt.datetime | None:
        value = self.cleaned_data.get("estimated_departure")
        if value is None:
            return None
        # Django read the clock in the server's zone; the agent typed the departure airport's clock.
        return timezone.make_naive(value).replace(tzinfo=self.zone)

    def clean_gate(self) -> str:
        gate = "".join(self.cleaned_data["gate"].split()).upper()
        if gate and not re.fullmatch(r"[A-Z0-9]{1,8}", gate):
            raise ValidationError(_("A gate is letters and digits, e.g. B42."))
        return gate

    def clean(self) -> dict:
        data = super().clean()
        status = data.get("status")
        if status == FlightStatus.DELAYED and not data.get("estimated_departure"):
            self.add_error("estimated_departure", _("Enter the new departure time of the delayed flight."))
        if status == FlightStatus.CANCELLED and not (data.get("reason") or "").strip():
            self.add_error("reason", _("Give the reason for the cancellation; passengers are told it."))
        return data


class OfficeItineraryForm(forms.Form):
    """The chosen flights and fares, carried from the search to the passengers step in the query string.

    Each leg is "<flight ids>:<fare family code>": one flight id, or the ids of a journey's flights joined
    by "-" (a connection), e.g. "12-40:ECO_STANDARD". ``chosen`` lists every flight with its fare family.
    """

    cabin = forms.ChoiceField(choices=Cabin.choices, widget=forms.HiddenInput)
    adults = forms.IntegerField(min_value=1, max_value=MAX_PARTY_SEATS, widget=forms.HiddenInput)
    children = forms.IntegerField(min_value=0, max_value=MAX_PARTY_SEATS - 1, initial=0, widget=forms.HiddenInput)
    infants = forms.IntegerField(min_value=0, max_value=MAX_PARTY_SEATS, initial=0, widget=forms.HiddenInput)

    def __init__(self, *args, legs: int, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.leg_count = legs
        for n in range(1, legs + 1):
            self.fields[f"leg_{n}"] = forms.CharField(
                max_length=40, error_messages={"required": _("Choose a flight and fare for every leg.")}
            )

    def clean(self) -> dict:
        data = super().clean()
        adults, children, infants = data.get("adults"), data.get("children") or 0, data.get("infants") or 0
        if adults is not None and adults + children > MAX_PARTY_SEATS:
            raise ValidationError(_("At most 9 seats per booking (adults and children)."))
        if adults is not None and infants > adults:
            raise ValidationError(_("Each infant travels on the lap of an adult: no more infants than adults."))
        chosen = []
        for n in range(1, self.leg_count + 1):
            match = re.fullmatch(r"(\d{1,12}(?:-\d{1,12}){0,2}):([A-Z0-9_]{1,20})", data.get(f"leg_{n}") or "")
            if not match:
                raise ValidationError(_("Choose a flight and fare for every leg."))
            chosen.extend((int(flight_id), match.group(2)) for flight_id in match.group(1).split("-"))
        data["chosen"] = chosen
        return data

    def passenger_types(self) -> list[str]:
        data = self.cleaned_data
        return (
            [PassengerType.ADULT] * data["adults"]
            + [PassengerType.CHILD] * (data.get("children") or 0)
            + [PassengerType.INFANT] * (data.get("infants") or 0)
        )


class OfficeBookForCustomerForm(BookingContactForm):
    """Contact details (pre-filled from the customer) and whether the customer is the first adult."""

    customer_travels = forms.BooleanField(
        label=_("The customer is passenger 1"), required=False, initial=True,
        help_text=_("Links passenger 1 to this customer: preferences and documents come from the record."),
    )  # fmt: skip


def _office_payment_key(form: forms.Form) -> str:
    """Only a key this office page issued for this booking: a form from another booking cannot replay here."""
    key = form.cleaned_data["idempotency_key"]
    if not OFFICE_PAYMENT_KEY.fullmatch(key) or key.split("-")[1] != form.record_locator:
        raise ValidationError(_("This payment form is out of date; please enter the payment again."))
    return key


class OfficeCardPaymentForm(CardPaymentForm):
    def clean_idempotency_key(self) -> str:
        return _office_payment_key(self)


class OfficeCounterPaymentForm(forms.Form):
    """Cash or card taken at the airport or sales-office counter, recorded by the agent."""

    idempotency_key = forms.CharField(max_length=100, widget=forms.HiddenInput)

    def __init__(self, *args, record_locator: str, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.record_locator = record_locator

    def clean_idempotency_key(self) -> str:
        return _office_payment_key(self)


class OfficeWaiverMixin(forms.Form):
    waive_reason = forms.CharField(
        label=_("Waive the fees, because"), max_length=300, required=False,
        help_text=_("Leave empty to charge the fees. The reason is kept with the booking."),
        widget=forms.Textarea(attrs={"rows": 2}),
    )  # fmt: skip

    def clean_waive_reason(self) -> str:
        return " ".join(self.cleaned_data.get("waive_reason", "").split())


class OfficeCheckInFeesForm(OfficeWaiverMixin):
    """How the fees the check-in quoted are settled at the desk: taken at the counter, or waived with a reason."""

    SETTLE_CHOICES = (("counter", _("Taken at the counter")), ("waive", _("Waived")))

    settle = forms.ChoiceField(label=_("The fees are"), choices=SETTLE_CHOICES, initial="counter", widget=forms.RadioSelect)
    total = forms.DecimalField(widget=forms.HiddenInput, max_digits=12, decimal_places=2, min_value=0)
    idempotency_key = forms.CharField(max_length=100, widget=forms.HiddenInput)

    def __init__(self, *args, record_locator: str, **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.record_locator = record_locator

    def clean_idempotency_key(self) -> str:
        return _office_payment_key(self)

    def clean(self) -> dict:
        data = super().clean()
        if data.get("settle") != "waive":
            return data
        if "waive_reason" not in self.fields:  # taken away for those who may not waive
            self.add_error("settle", _("Only a supervisor can waive fees."))
        elif not data.get("waive_reason"):
            self.add_error("waive_reason", _("Give the reason for waiving the fee."))
        return data


class OfficeChangeFlightForm(OfficeWaiverMixin):
    new_flight = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class OfficeCancelBookingForm(OfficeWaiverMixin):
    reason = forms.CharField(label=_("Reason for the cancellation"), max_length=300, required=False)
    confirm = forms.BooleanField(label=_("Yes, cancel this booking"), required=True)


class OfficeRebookForm(forms.Form):
    new_flight = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    reason = forms.CharField(
        label=_("Reason"), max_length=300, initial=_("Disruption: rebooked by the airline"),
        help_text=_("Passengers are not charged for a rebooking."),
    )  # fmt: skip


class OfficeAlternativeDayForm(forms.Form):
    day = forms.DateField(label=_("Flights on"), required=False, **DATE_WIDGET)
