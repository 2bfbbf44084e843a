from django.urls import path

from loyalty.views.portal import account, claims, household, redeem

app_name = "loyalty_portal"
urlpatterns: list = [
    path("miles/", account.miles, name="miles"),
    path("miles/join/", account.join, name="miles_join"),
    path("miles/statement/", account.statement, name="miles_statement"),
    path("miles/statement.csv", account.statement_csv, name="miles_statement_csv"),
    path("miles/card/", account.card, name="miles_card"),
    path("miles/claim/", claims.claims, name="claims"),
    path("miles/household/", household.household, name="household"),
    path("miles/household/create/", household.household_create, name="household_create"),
    path("miles/household/invite/", household.household_invite, name="household_invite"),
    path("miles/household/invitations/<int:invitation_id>/accept/", household.invitation_accept, name="household_accept"),
    path("miles/household/invitations/<int:invitation_id>/decline/", household.invitation_decline, name="household_decline"),
    path("miles/household/invitations/<int:invitation_id>/cancel/", household.invitation_cancel, name="household_cancel"),
    path("miles/household/leave/", household.household_leave, name="household_leave"),
    path("miles/household/members/<str:number>/remove/", household.household_remove, name="household_remove"),
    path("miles/transfer/", household.transfer, name="transfer"),
    path("miles/redeem/", redeem.redeem, name="redeem"),
    path("miles/upgrade/<str:record_locator>/", redeem.upgrade, name="upgrade"),
]
