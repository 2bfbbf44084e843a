from django.urls import path  # noqa: F401

from marketing.views import offers

app_name = "marketing_office"
urlpatterns: list = [
    path("offers/", offers.OfferListView.as_view(), name="offer_list"),
    path("offers/new/", offers.OfferCreateView.as_view(), name="offer_new"),
    path("offers/<int:offer_id>/", offers.OfferDetailView.as_view(), name="offer"),
    path("offers/<int:offer_id>/codes/", offers.OfferIssueCodesView.as_view(), name="offer_codes_issue"),
    path("offers/<int:offer_id>/codes.csv", offers.OfferCodesCsvView.as_view(), name="offer_codes_csv"),
]
