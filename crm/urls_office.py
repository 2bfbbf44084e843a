from django.contrib.auth import views as auth_views
from django.urls import path

from crm.views import office

app_name = "office"
urlpatterns = [
    path("login/", office.OfficeLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="office:login"), name="logout"),
    path("", office.HomeView.as_view(), name="home"),
    path("customers/", office.CustomerSearchView.as_view(), name="customer_search"),
    path("customers/new/", office.CustomerCreateView.as_view(), name="customer_create"),
    path("customers/<str:customer_number>/", office.CustomerDetailView.as_view(), name="customer_detail"),
    path("customers/<str:customer_number>/edit/", office.CustomerEditView.as_view(), name="customer_edit"),
    path("customers/<str:customer_number>/consent/", office.CustomerConsentView.as_view(), name="customer_consent"),
    path("customers/<str:customer_number>/timeline/", office.CustomerTimelineView.as_view(), name="customer_timeline"),
    path("customers/<str:customer_number>/history/", office.CustomerHistoryView.as_view(), name="customer_history"),
    path("duplicates/", office.DuplicatesView.as_view(), name="duplicates"),
    path("duplicates/merge/", office.CustomerMergeView.as_view(), name="customer_merge"),
    path("duplicates/not-duplicates/", office.DuplicateDistinctView.as_view(), name="duplicate_distinct"),
    path(
        "duplicates/not-duplicates/<int:pair_id>/undo/",
        office.DuplicateDistinctUndoView.as_view(),
        name="duplicate_distinct_undo",
    ),
    path("leads/", office.LeadListView.as_view(), name="lead_list"),
    path("leads/new/", office.LeadCreateView.as_view(), name="lead_create"),
    path("leads/converted/", office.LeadConvertedView.as_view(), name="lead_converted"),
    path("leads/<int:lead_id>/", office.LeadDetailView.as_view(), name="lead_detail"),
    path("leads/<int:lead_id>/advance/", office.LeadAdvanceView.as_view(), name="lead_advance"),
    path("leads/<int:lead_id>/convert/", office.LeadConvertView.as_view(), name="lead_convert"),
    path("leads/<int:lead_id>/notes/", office.LeadNoteView.as_view(), name="lead_note"),
    path("audit/", office.AccessLogView.as_view(), name="access_log"),
]
