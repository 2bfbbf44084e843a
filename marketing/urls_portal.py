from django.urls import path

from marketing.views import portal

app_name = "marketing_portal"
urlpatterns: list = [
    path("unsubscribe/<str:token>/", portal.unsubscribe, name="unsubscribe"),
]

from marketing.views import preferences  # noqa: E402

urlpatterns += [
    path("preferences/marketing/", preferences.marketing_preferences, name="marketing_preferences"),
]
