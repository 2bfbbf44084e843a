from django.urls import path

from loyalty.views.office import adjustments, fraud, liability, members, partners, status_match

app_name = "loyalty_office"
urlpatterns: list = [
    path("members/", members.MemberListView.as_view(), name="member_list"),
    path("members/<str:number>/", members.MemberDetailView.as_view(), name="member"),
    path("customers/<str:customer_number>/enrol/", members.CustomerEnrolView.as_view(), name="customer_enrol"),
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
    # Partners, liability and fraud review
    path("partners/", partners.PartnerListView.as_view(), name="partner_list"),
    path("partners/<slug:code>/key/", partners.PartnerKeyIssueView.as_view(), name="partner_key_issue"),
    path("partners/<slug:code>/statements/<str:month>/", partners.PartnerStatementView.as_view(), name="partner_statement"),
    path(
        "partners/<slug:code>/statements/<str:month>/csv/",
        partners.PartnerStatementCsvView.as_view(),
        name="partner_statement_csv",
    ),
    path("liability/", liability.LiabilityView.as_view(), name="liability"),
    path("fraud/", fraud.FraudQueueView.as_view(), name="fraud_queue"),
    path("fraud/<int:flag_id>/review/", fraud.FraudReviewView.as_view(), name="fraud_review"),
]
