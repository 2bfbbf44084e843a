from django.urls import path

from loyalty.views.portal import account

app_name = "loyalty_portal"
urlpatterns: list = [
    path("miles/", account.miles, name="miles"),
    path("miles/join/", account.join, name="miles_join"),
    path("miles/statement/", account.statement, name="miles_statement"),
    path("miles/statement.csv", account.statement_csv, name="miles_statement_csv"),
    path("miles/card/", account.card, name="miles_card"),
]
