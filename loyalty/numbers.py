"""Frequent flyer numbers: nine digits and a Luhn check digit, so a mistyped digit or a swapped pair
of neighbours is caught where the number is typed, before anyone looks it up."""

from __future__ import annotations

import secrets

from django.db.models import CharField, F, Func, Value

LENGTH = 10


def check_digit(body: str) -> str:
    """The Luhn digit that makes ``body`` + digit valid."""
    total = 0
    for i, char in enumerate(reversed(body)):
        digit = int(char)
        if i % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def clean(number: str) -> str:
    """What people type (spaces, dashes) reduced to the digits."""
    return "".join(ch for ch in (number or "") if not ch.isspace() and ch != "-")


def is_valid(number: str) -> bool:
    number = clean(number)
    return len(number) == LENGTH and number.isascii() and number.isdigit() and check_digit(number[:-1]) == number[-1]


def new_number() -> str:
    """A random valid number; it never starts with 0, so it reads the same wherever it is printed."""
    body = str(secrets.randbelow(9 * 10**8) + 10**8)
    return body + check_digit(body)


def digits_of(field: str) -> Func:
    """In SQL: a typed number column with anything but digits taken out (``"123 456-7890"`` -> ``"1234567890"``)."""
    return Func(F(field), Value(r"\D"), Value(""), Value("g"), function="regexp_replace", output_field=CharField())
