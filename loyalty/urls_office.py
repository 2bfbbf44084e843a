from django.urls import path

from loyalty.views.office import members

app_name = "loyalty_office"
urlpatterns: list = [
    path("members/", members.MemberListView.as_view(), name="member_list"),
    path("members/<str:number>/", members.MemberDetailView.as_view(), name="member"),
    path("customers/<str:customer_number>/enrol/", members.CustomerEnrolView.as_view(), name="customer_enrol"),
]
