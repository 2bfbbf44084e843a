from django.urls import path

from loyalty.views.office import adjustments, status_match

app_name = "loyalty_office"
urlpatterns: list = [
    path("members/<str:number>/status-match/", status_match.StatusMatchNewView.as_view(), name="status_match_new"),
    path("status-matches/", status_match.StatusMatchQueueView.as_view(), name="status_match_queue"),
    path(
        "status-matches/<int:status_match_id>/approve/",
        status_match.StatusMatchApproveView.as_view(),
        name="status_match_approve",
    ),
    path(
        "status-matches/<int:status_match_id>/reject/",
        status_match.StatusMatchRejectView.as_view(),
        name="status_match_reject",
    ),
    path("members/<str:number>/adjust/", adjustments.AdjustView.as_view(), name="adjust"),
    path("approvals/", adjustments.ApprovalsView.as_view(), name="approvals"),
    path(
        "approvals/adjustments/<int:adjustment_id>/approve/",
        adjustments.AdjustmentDecisionView.as_view(decision="approve"),
        name="adjustment_approve",
    ),
    path(
        "approvals/adjustments/<int:adjustment_id>/reject/",
        adjustments.AdjustmentDecisionView.as_view(decision="reject"),
        name="adjustment_reject",
    ),
]
