"""crm.forms.add_application_error: a service's refusal shown on the forms of a page."""

from __future__ import annotations

from django import forms

from crm.errors import ApplicationError
from crm.forms import add_application_error


class TravellerForm(forms.Form):
    given_name = forms.CharField(required=False)
    password1 = forms.CharField(required=False)


def bound() -> TravellerForm:
    form = TravellerForm({"given_name": "Ada", "password1": "x"})
    assert form.is_valid()
    return form


def test_a_message_about_a_field_goes_beside_that_field():
    form = bound()
    add_application_error(form, ApplicationError("Check the name.", fields={"given_name": ["Too short."]}))
    assert form.errors == {"given_name": ["Too short."]}


def test_a_refusal_that_names_no_field_goes_above_the_form():
    form = bound()
    top = add_application_error(form, ApplicationError("The flight is full.", code="sold_out"))
    assert form.non_field_errors() == ["The flight is full."]
    assert top == ["The flight is full."]


def test_a_message_about_a_field_the_form_lacks_goes_above_the_form():
    form = bound()
    add_application_error(
        form, ApplicationError("Say why.", fields={"lost_reason": ["This field is required."], "given_name": ["No."]})
    )
    assert form.errors["given_name"] == ["No."]
    assert form.non_field_errors() == ["This field is required."]


def test_field_map_puts_the_services_name_on_the_forms_field():
    form = bound()
    add_application_error(
        form, ApplicationError("Weak.", fields={"password": ["Too common."]}), field_map={"password": "password1"}
    )
    assert form.errors == {"password1": ["Too common."]}


def test_place_sends_a_message_to_another_form_of_the_page():
    # given a page with a contact form and two travellers' forms
    contact, first, second = bound(), bound(), bound()
    travellers = [first, second]

    def traveller(key: str):
        kind, _dot, number = key.partition(".")
        return (travellers[int(number) - 1], kind) if number.isdigit() else None

    # when the service names the second traveller's field and one the page lacks
    top = add_application_error(
        contact,
        ApplicationError("Check the travellers.", fields={"given_name.2": ["Too long."], "seats": ["Full."]}),
        place=traveller,
    )
    # then the first goes beside the second traveller's field, the other above the contact form
    assert second.errors == {"given_name": ["Too long."]}
    assert first.errors == {}
    assert contact.non_field_errors() == ["Full."]
    assert top == ["Full."]


def test_a_page_without_a_form_of_its_own_gets_the_messages_back():
    traveller = bound()
    top = add_application_error(
        None,
        ApplicationError("Check in refused.", fields={"bags.1": ["Too heavy."], "window": ["Closed."]}),
        place=lambda key: (traveller, None) if key == "bags.1" else None,
    )
    assert traveller.non_field_errors() == ["Too heavy."]
    assert top == ["Closed."]
