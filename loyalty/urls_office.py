from django.urls import path

from loyalty.views.office import adjustments

app_name = "loyalty_office"
urlpatterns: list = [
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
