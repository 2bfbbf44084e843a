from django.urls import path

from loyalty.views.portal import claims

app_name = "loyalty_portal"
urlpatterns: list = [
    path("miles/claim/", claims.claims, name="claims"),
]
