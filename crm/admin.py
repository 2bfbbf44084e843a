"""Django admin for administrators: users and roles. Customers are worked in the office, not here."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from crm.models import User


@admin.register(User)
class StaffUserAdmin(UserAdmin):
    fieldsets = (*UserAdmin.fieldsets, ("Verification", {"fields": ("email_verified_at",)}))
    list_display = ("username", "email", "first_name", "last_name", "is_staff", "is_active")
    list_filter = ("is_staff", "is_superuser", "is_active", "groups")
