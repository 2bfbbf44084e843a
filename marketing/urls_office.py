from django.urls import path, re_path

from marketing.views import campaigns, offers, office, results

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
    path("campaigns/", campaigns.CampaignListView.as_view(), name="campaign_list"),
    path("campaigns/new/", campaigns.CampaignCreateView.as_view(), name="campaign_new"),
    path("campaigns/<int:campaign_id>/", campaigns.CampaignDetailView.as_view(), name="campaign_detail"),
    path("campaigns/<int:campaign_id>/edit/", campaigns.CampaignEditView.as_view(), name="campaign_edit"),
    path("campaigns/<int:campaign_id>/preview/", campaigns.CampaignPreviewView.as_view(), name="campaign_preview"),
    path("campaigns/<int:campaign_id>/test-send/", campaigns.CampaignTestSendView.as_view(), name="campaign_test_send"),
    re_path(
        rf"^campaigns/(?P<campaign_id>[0-9]+)/(?P<action>{'|'.join(campaigns.ACTIONS)})/$",
        campaigns.CampaignActionView.as_view(),
        name="campaign_action",
    ),
    path("calendar/", campaigns.CampaignCalendarView.as_view(), name="calendar"),
    # Results: one campaign's dashboard, and every campaign's headline figures.
    path("campaigns/<int:campaign_id>/results/", results.CampaignResultsView.as_view(), name="campaign_results"),
    path("results/", results.ResultsOverviewView.as_view(), name="results_overview"),
]
