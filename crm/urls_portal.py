"""The passengers' self-service portal at /."""

from django.urls import path

from crm.views import portal

app_name = "portal"
urlpatterns = [
    path("", portal.home, name="home"),
    # Account
    path("accounts/login/", portal.LoginView.as_view(), name="login"),
    path("accounts/logout/", portal.LogoutView.as_view(), name="logout"),
    path("accounts/register/", portal.register, name="register"),
    path("accounts/register/done/", portal.register_done, name="register_done"),
    path("accounts/verify/resend/", portal.resend_verification, name="resend_verification"),
    path("accounts/verify/resend/done/", portal.resend_verification_done, name="resend_verification_done"),
    path("accounts/verify/done/", portal.verify_email_done, name="verify_email_done"),
    path("accounts/verify/<str:uidb64>/<str:token>/", portal.verify_email, name="verify_email"),
    path("accounts/password/reset/", portal.PasswordResetView.as_view(), name="password_reset"),
    path("accounts/password/reset/done/", portal.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("accounts/password/reset/complete/", portal.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path(
        "accounts/password/reset/<str:uidb64>/<str:token>/",
        portal.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("accounts/password/change/", portal.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/change/done/", portal.PasswordChangeDoneView.as_view(), name="password_change_done"),
    # The passenger's own record
    path("profile/", portal.profile, name="profile"),
    path("preferences/communication/", portal.consent, name="consent"),
    path("my-data/", portal.my_data, name="my_data"),
    path("my-data/download/", portal.download_data, name="download_data"),
    path("my-data/delete/", portal.delete_account, name="delete_account"),
    path("my-data/deleted/", portal.account_deleted, name="account_deleted"),
]
