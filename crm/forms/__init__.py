"""Forms of the back-office and the portal for the customer record, one module per sub-domain."""

from crm.forms.accounts import (
    DeleteAccountForm,
    PortalLoginForm,
    PortalPasswordResetForm,
    RegistrationForm,
    ResendVerificationForm,
    VerifyEmailForm,
    portal_language_choices,
)
from crm.forms.customers import (
    IDENTITY_NUMBER_FIELDS,
    AccessLogFilterForm,
    ConsentRecordForm,
    CustomerMergeForm,
    CustomerNumberField,
    CustomerSearchForm,
    DuplicatePairForm,
    OfficeAuthenticationForm,
    OfficeCustomerForm,
    normalize_customer_number,
)
from crm.forms.errors import add_application_error
from crm.forms.leads import LEAD_FORM_FIELDS, LeadAdvanceForm, LeadConvertForm, LeadFilterForm, LeadForm, LeadNoteForm
from crm.forms.profile import PHONE_HELP, PORTAL_PROFILE_FIELDS, PORTAL_PROFILE_FIELDSETS, ConsentForm, ProfileForm

__all__ = [
    "AccessLogFilterForm",
    "ConsentForm",
    "ConsentRecordForm",
    "CustomerMergeForm",
    "CustomerNumberField",
    "CustomerSearchForm",
    "DeleteAccountForm",
    "DuplicatePairForm",
    "IDENTITY_NUMBER_FIELDS",
    "LEAD_FORM_FIELDS",
    "LeadAdvanceForm",
    "LeadConvertForm",
    "LeadFilterForm",
    "LeadForm",
    "LeadNoteForm",
    "OfficeAuthenticationForm",
    "OfficeCustomerForm",
    "PHONE_HELP",
    "PORTAL_PROFILE_FIELDS",
    "PORTAL_PROFILE_FIELDSETS",
    "PortalLoginForm",
    "PortalPasswordResetForm",
    "ProfileForm",
    "RegistrationForm",
    "ResendVerificationForm",
    "VerifyEmailForm",
    "add_application_error",
    "normalize_customer_number",
    "portal_language_choices",
]
