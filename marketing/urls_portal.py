from django.urls import path

from marketing.views import portal, preferences, tracking

app_name = "marketing_portal"
urlpatterns: list = [
    path("unsubscribe/<str:token>/", portal.unsubscribe, name="unsubscribe"),
    path("preferences/marketing/", preferences.marketing_preferences, name="marketing_preferences"),
    # Where sent messages point: the open pixel, the click redirect; and the provider's bounce webhook.
    path("t/o/<str:token>.gif", tracking.track_open, name="track_open"),
    path("t/c/<str:token>/", tracking.track_click, name="track_click"),
    path("t/bounce/", tracking.bounce_webhook, name="bounce_webhook"),
]
