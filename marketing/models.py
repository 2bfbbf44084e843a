"""Marketing: segments (rules over the customer attributes every app registers) and static lists."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class MarketingChannel(models.TextChoices):
    """The channels a campaign can reach a segment on; each needs the customer's marketing consent."""

    EMAIL = "email", _("E-mail")
    SMS = "sms", _("SMS")
    PUSH = "push", _("Push notification")


class Segment(models.Model):
    """Who a campaign is for: a tree of rules over customer attributes, compiled to one query when used.

    Only customers with a current marketing consent on ``consent_channel`` (and not erased) are ever in it.
    ``last_count`` is the size when last saved or recounted, so the list page needs no count per row.
    """

    name = models.CharField(_("name"), max_length=120, unique=True)
    description = models.TextField(_("description"), blank=True, max_length=2000)
    rules = models.JSONField(_("rules"), default=dict)
    consent_channel = models.CharField(
        _("consent channel"), max_length=10, choices=MarketingChannel.choices, default=MarketingChannel.EMAIL
    )
    last_count = models.PositiveIntegerField(_("customers"), null=True, blank=True)
    counted_at = models.DateTimeField(_("counted at"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class StaticList(models.Model):
    """A fixed set of customers imported from a file (customer numbers or e-mail addresses)."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    description = models.TextField(_("description"), blank=True, max_length=2000)
    size = models.PositiveIntegerField(_("customers"), default=0)
    source_filename = models.CharField(_("file"), max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("static list")
        verbose_name_plural = _("static lists")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class StaticListMember(models.Model):
    static_list = models.ForeignKey(StaticList, on_delete=models.CASCADE, related_name="members")
    customer = models.ForeignKey("crm.Customer", on_delete=models.CASCADE, related_name="+")
    row = models.PositiveIntegerField(_("row in the file"))

    class Meta:
        verbose_name = _("static list member")
        constraints = [models.UniqueConstraint(fields=["static_list", "customer"], name="static_list_member_once")]
        indexes = [models.Index(fields=["customer"], name="static_list_member_customer")]
