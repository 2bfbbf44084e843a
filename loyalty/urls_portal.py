from django.urls import path

from loyalty.views.portal import redeem

app_name = "loyalty_portal"
urlpatterns: list = [
    path("miles/redeem/", redeem.redeem, name="redeem"),
    path("miles/upgrade/<str:record_locator>/", redeem.upgrade, name="upgrade"),
]
