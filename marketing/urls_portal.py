from django.urls import path

from marketing.views import portal

app_name = "marketing_portal"
urlpatterns: list = [
    path("unsubscribe/<str:token>/", portal.unsubscribe, name="unsubscribe"),
]

# Where sent messages point: the open pixel, the click redirect; and the provider's bounce webhook.
from marketing.views import tracking as tracking_views  # noqa: E402

urlpatterns += [
    path("t/o/<str:token>.gif", tracking_views.track_open, name="track_open"),
    path("t/c/<str:token>/", tracking_views.track_click, name="track_click"),
    path("t/bounce/", tracking_views.bounce_webhook, name="bounce_webhook"),
]
