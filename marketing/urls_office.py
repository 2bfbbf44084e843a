from django.urls import path  # noqa: F401

app_name = "marketing_office"
urlpatterns: list = []
