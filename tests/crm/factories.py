"""Factories for the customer record. Names come from several locales, like real passengers."""

import factory
from django.contrib.auth.models import Group
from factory.django import DjangoModelFactory

from crm.models import Customer, Lead, User

DEMO_PASSWORD = "airline-demo"  # noqa: S105


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}@example.com")
    email = factory.LazyAttribute(lambda o: o.username if "@" in o.username else f"{o.username}@airline.example")
    password = factory.PostGenerationMethodCall("set_password", DEMO_PASSWORD)

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.add(*Group.objects.filter(name__in=extracted))
        if create:
            self.save()


class StaffFactory(UserFactory):
    username = factory.Sequence(lambda n: f"staff{n}")
    is_staff = True


class CustomerFactory(DjangoModelFactory):
    class Meta:
        model = Customer

    given_name = factory.Faker("first_name")
    family_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    date_of_birth = factory.Faker("date_of_birth", minimum_age=18, maximum_age=85)
    gender = factory.Iterator(["F", "M", "X"])
    nationality = factory.Iterator(["GB", "CN", "DE", "US", "FR"])


class LeadFactory(DjangoModelFactory):
    class Meta:
        model = Lead

    given_name = factory.Faker("first_name")
    family_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"lead{n}@example.com")
    source = "campaign"
    source_detail = "Spring sale"
