from django.urls import path

from reservations.views import office

app_name = "reservations_office"
urlpatterns = [
    path("bookings/", office.BookingSearchView.as_view(), name="booking_search"),
    path("bookings/<str:record_locator>/", office.BookingDetailView.as_view(), name="booking_detail"),
    path("bookings/<str:record_locator>/pay/", office.BookingPayView.as_view(), name="booking_pay"),
    path("bookings/<str:record_locator>/cancel/", office.BookingCancelView.as_view(), name="booking_cancel"),
    path(
        "bookings/<str:record_locator>/frequent-flyer/",
        office.BookingFrequentFlyerView.as_view(),
        name="booking_frequent_flyer",
    ),
    path(
        "bookings/<str:record_locator>/refunds/<int:refund_id>/paid-out/",
        office.RefundPaidOutView.as_view(),
        name="refund_paid_out",
    ),
    path(
        "bookings/<str:record_locator>/flights/<int:sequence>/change/",
        office.SegmentChangeView.as_view(),
        name="segment_change",
    ),
    path(
        "bookings/<str:record_locator>/flights/<int:sequence>/rebook/",
        office.SegmentRebookView.as_view(),
        name="segment_rebook",
    ),
    path(
        "bookings/<str:record_locator>/flights/<int:sequence>/check-in/",
        office.SegmentCheckInView.as_view(),
        name="segment_check_in",
    ),
    path("customers/<str:customer_number>/book/", office.BookForCustomerSearchView.as_view(), name="book_search"),
    path(
        "customers/<str:customer_number>/book/passengers/",
        office.BookForCustomerPassengersView.as_view(),
        name="book_passengers",
    ),
    path("flights/", office.FlightListView.as_view(), name="flight_list"),
    path("flights/<int:flight_id>/", office.FlightDetailView.as_view(), name="flight_detail"),
    path("flights/<int:flight_id>/status/", office.FlightStatusView.as_view(), name="flight_status"),
    path("flights/<int:flight_id>/manifest/", office.FlightManifestView.as_view(), name="flight_manifest"),
    path("disruptions/", office.DisruptionListView.as_view(), name="disruption_list"),
]
