from django.urls import path  # noqa: F401

app_name = "loyalty_office"
urlpatterns: list = []
