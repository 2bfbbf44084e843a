from django.urls import path

from marketing.views import offers, office

app_name = "marketing_office"
urlpatterns: list = [
    path("offers/", offers.OfferListView.as_view(), name="offer_list"),
    path("offers/new/", offers.OfferCreateView.as_view(), name="offer_new"),
    path("offers/<int:offer_id>/", offers.OfferDetailView.as_view(), name="offer"),
    path("offers/<int:offer_id>/codes/", offers.OfferIssueCodesView.as_view(), name="offer_codes_issue"),
    path("offers/<int:offer_id>/codes.csv", offers.OfferCodesCsvView.as_view(), name="offer_codes_csv"),
    path("segments/", office.SegmentListView.as_view(), name="segment_list"),
    path("segments/new/", office.SegmentCreateView.as_view(), name="segment_new"),
    path("segments/preview/", office.SegmentPreviewView.as_view(), name="segment_preview"),
    path("segments/<int:segment_id>/", office.SegmentDetailView.as_view(), name="segment_detail"),
    path("segments/<int:segment_id>/edit/", office.SegmentEditView.as_view(), name="segment_edit"),
    path("segments/<int:segment_id>/recount/", office.SegmentRecountView.as_view(), name="segment_recount"),
    path("lists/", office.StaticListListView.as_view(), name="static_list_list"),
    path("lists/upload/", office.StaticListUploadView.as_view(), name="static_list_upload"),
]

# Campaign results: one campaign's dashboard, and every campaign's headline figures.
from marketing.views import results as results_views  # noqa: E402

urlpatterns += [
    path("campaigns/<int:campaign_id>/results/", results_views.CampaignResultsView.as_view(), name="campaign_results"),
    path("results/", results_views.ResultsOverviewView.as_view(), name="results_overview"),
]
