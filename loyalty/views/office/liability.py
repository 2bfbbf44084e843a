"""The miles liability for finance: outstanding award miles by tier, their value, breakage and net."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views import View

from crm.permissions import StaffPermissionRequiredMixin
from loyalty import selectors

SEE_LIABILITY = ("loyalty.view_programme", "loyalty.view_liability")


class LiabilityView(StaffPermissionRequiredMixin, View):
    permission_required = SEE_LIABILITY

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, "office/loyalty/liability.html", {"liability": selectors.liability()})
