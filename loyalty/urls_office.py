from django.urls import path

from loyalty.views.office import fraud, liability, partners

app_name = "loyalty_office"
urlpatterns: list = [
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
