"""Settings for the airline CRM portal.

Every deploy-specific value comes from the environment; the defaults are safe for a
developer's machine with PostgreSQL and Redis on localhost.
"""

import hashlib
from pathlib import Path

import environ
from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
# Local default only; production sets SECRET_KEY (check --deploy rejects this one: crm.checks).
SECRET_KEY = env.str("SECRET_KEY", default="django-insecure-local-development-key-change-me")
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "phonenumber_field",
    "django_countries",
    "auditlog",
    "axes",
    "csp",
    "django_htmx",
    "crm",
    "reservations",
    "loyalty",
    "support",
    "marketing",
    "analytics",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "auditlog.middleware.AuditlogMiddleware",
    # Last, so that lockout sees the outcome of authentication.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "crm.urls"
WSGI_APPLICATION = "crm.wsgi.application"
ASGI_APPLICATION = "crm.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default="postgres://postgres@localhost:5432/airline_crm"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="redis://localhost:6379/0")
CACHES = {
    "default": {
        "BACKEND": "crm.cache.RedisCache",
        "LOCATION": env.str("CACHE_URL", default=REDIS_URL),
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="airline-crm"),
    }
}

AUTH_USER_MODEL = "crm.User"
AUTHENTICATION_BACKENDS = [
    "crm.login_limits.ClientAddressLoginLimitBackend",
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "portal:login"
LOGIN_REDIRECT_URL = "portal:home"
LOGOUT_REDIRECT_URL = "portal:home"

# Who the client is: the socket's address, or with n trusted proxies in front, the address the outermost
# of them saw (crm.http.client_ip). Every rate limit and lockout uses it; 0 ignores X-Forwarded-For.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# Login lockout: after AXES_FAILURE_LIMIT failures for one username from one address.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_CLIENT_IP_CALLABLE = "crm.http.client_ip"
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "lockout.html"
AXES_VERBOSE = False
# axes keeps each failed login's query string; a ?next= may hold a search URL (crm.log_redaction).
AXES_SENSITIVE_PARAMETERS = ["next", "q", "search"]
# And after LOGIN_FAILURES_PER_IP failures from one address, whatever the usernames (password spraying).
LOGIN_FAILURES_PER_IP = env.int("LOGIN_FAILURES_PER_IP", default=30)
LOGIN_FAILURES_PER_IP_WINDOW_MINUTES = env.float("LOGIN_FAILURES_PER_IP_WINDOW_MINUTES", default=15)

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
# English dates and times as in the UK (day month year, 24-hour clock), not Django's US "en" formats.
FORMAT_MODULE_PATH = ["crm.formats"]
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": env.str("STATICFILES_BACKEND", default="django.contrib.staticfiles.storage.StaticFilesStorage")},
}
MEDIA_ROOT = BASE_DIR / "media"

# E-mail: EMAIL_URL such as smtp://localhost:1025 (the compose mail catcher) or consolemail://.
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
# The sender's address; its display name is the airline's (AIRLINE_NAME, below) unless the value names one.
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="no-reply@airline.example")

# Personal data. Passport and ID numbers are encrypted with keys derived from SECRET_KEY and
# FIELD_ENCRYPTION_KEY; several comma-separated keys rotate (the first encrypts, all decrypt).
# The defaults are public: check --deploy refuses them (crm.checks).
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEY", default=["local-development-field-key-change-me"])
SALT_KEY = FIELD_ENCRYPTION_KEYS
# Keyed hash for exact lookup of encrypted values; must stay stable across key rotation.
FIELD_HASH_KEY = env.str("FIELD_HASH_KEY", default=FIELD_ENCRYPTION_KEYS[-1])

# Security headers. SECURE_HTTPS is on in production (behind TLS); off on a laptop.
SECURE_HTTPS = env.bool("SECURE_HTTPS", default=False)
SESSION_COOKIE_SECURE = SECURE_HTTPS
CSRF_COOKIE_SECURE = SECURE_HTTPS
SECURE_SSL_REDIRECT = SECURE_HTTPS
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if SECURE_HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HTTPS
SECURE_HSTS_PRELOAD = SECURE_HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if SECURE_HTTPS else None
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_ENGINE = "crm.sessions"
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}

# REST API
REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header is what turns "not logged in" into a 401 (not a 403).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "crm.api_support.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "crm.api_support.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "crm.api_support.StandardPagination",
    "PAGE_SIZE": 25,
    "DEFAULT_FILTER_BACKENDS": [
        "crm.api_support.FilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "crm.api_support.AutoSchema",
    "EXCEPTION_HANDLER": "crm.api_support.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "crm.api_support.AnonRateThrottle",
        "crm.api_support.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="60/minute"),
        "user": env.str("API_THROTTLE_USER", default="6000/minute"),
        "token": env.str("API_THROTTLE_TOKEN", default="10/minute"),
    },
}
# API tokens (POST /api/v1/auth/token/) expire this many seconds after they are issued; a password change
# or the account's deletion ends them at once.
API_TOKEN_TTL = env.int("API_TOKEN_TTL", default=24 * 3600)
SPECTACULAR_SETTINGS = {
    "TITLE": "Airline CRM portal API",
    "DESCRIPTION": "Customers, bookings, loyalty, cases and campaigns of one airline.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from the installed sidecar package, not a CDN (the CSP allows 'self' only).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",  # tags and operation ids by resource: customers, leads, me...
    # Fields of the same name with different choices (and one choice set under several names).
    "ENUM_NAME_OVERRIDES": {
        "CountryEnum": "crm.api_support.country_choices",
        "LanguageEnum": "crm.api_support.language_choices",
        "PortalLanguageEnum": "crm.api_support.portal_language_choices",
        "ConsentSourceEnum": "crm.models.ConsentSource",
        "LeadSourceEnum": "crm.models.LeadSource",
        "LeadStatusEnum": "crm.models.LeadStatus",
        "ConsentChannelEnum": "crm.models.ConsentChannel",
        "ConsentPurposeEnum": "crm.models.ConsentPurpose",
        "CabinEnum": "crm.models.Cabin",
        "MealCodeEnum": "crm.models.MealCode",
        "AssistanceCodeEnum": "crm.models.AssistanceCode",
        "TravelPurposeEnum": "crm.models.TravelPurpose",
        "BookingChannelEnum": "reservations.models.Channel",
        "BookingStatusEnum": "reservations.models.BookingStatus",
        "SegmentStatusEnum": "reservations.models.SegmentStatus",
        "FlightStatusEnum": "reservations.models.FlightStatus",
        "PaymentStatusEnum": "reservations.models.PaymentStatus",
        "RefundStatusEnum": "reservations.models.RefundStatus",
        "TicketStatusEnum": "reservations.models.TicketStatus",
        "AdjustmentKindEnum": "loyalty.models.AdjustmentKind",
        "DecisionEnum": "loyalty.models.Decision",
        "FraudSignalEnum": "loyalty.models.FraudSignal",
        "FraudReviewStatusEnum": "loyalty.models.ReviewStatus",
        "FraudReviewDecisionEnum": "loyalty.api.fraud.DECISIONS",
        "OfferKindEnum": "marketing.models.OfferKind",
        "PromoCodeStatusEnum": "marketing.models.PromoCodeStatus",
        "MarketingChannelEnum": "marketing.models.MarketingChannel",
        "CampaignKindEnum": "marketing.models.CampaignKind",
        "CampaignStatusEnum": "marketing.models.CampaignStatus",
        "CampaignRepeatEnum": "marketing.models.CampaignRepeat",
        "CampaignTriggerEnum": "marketing.models.CampaignTrigger",
    },
}

# Celery: Redis broker; campaigns run on their own queue so they never delay bookings.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {"marketing.tasks.*": {"queue": "campaigns"}}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
# Periodic work. django_celery_beat's DatabaseScheduler copies these into its tables at start-up,
# where the office admin can pause or re-time them.
CELERY_BEAT_SCHEDULE = {
    "crm-sweep-pending-emails": {"task": "crm.tasks.sweep_pending_emails", "schedule": 120.0},
    "reservations-expire-unpaid-holds": {"task": "reservations.tasks.expire_unpaid_holds", "schedule": 60.0},
    "reservations-sweep-pending-refunds": {"task": "reservations.tasks.sweep_pending_refunds", "schedule": 300.0},
    "reservations-sweep-pending-payments": {"task": "reservations.tasks.sweep_pending_payments", "schedule": 60.0},
    "reservations-sweep-unpaid-check-in-fees": {"task": "reservations.tasks.sweep_unpaid_check_in_fees", "schedule": 300.0},
    # Daily, in the small hours (CELERY_TIMEZONE): well after midnight, when periods end and miles expire.
    "loyalty-tiers-requalify": {"task": "loyalty.tasks.tiers_requalify", "schedule": crontab(hour=2, minute=10)},
    "loyalty-miles-expire": {"task": "loyalty.tasks.miles_expire", "schedule": crontab(hour=2, minute=40)},
    "loyalty-accrual-sweep": {"task": "loyalty.tasks.accrual_sweep", "schedule": 3600.0},
    # Campaign deliveries whose task the broker lost. Each campaign's own schedule is a beat entry of its own
    # (marketing-campaign-<id>, written when it is scheduled): birthday and recurring ones tick hourly.
    "marketing-deliveries-sweep": {"task": "marketing.tasks.deliveries_sweep", "schedule": 600.0},
    "marketing-campaigns-complete-finished": {"task": "marketing.tasks.campaigns_complete_finished", "schedule": 600.0},
    # Conversions of the last two hours credited again, in case the broker lost a ticketing's task.
    "marketing-conversions-sweep": {"task": "marketing.tasks.conversions_sweep", "schedule": 3600.0},
    # Triggers no event announces: passports expiring, customers gone quiet, membership anniversaries.
    "marketing-triggered-scans": {"task": "marketing.tasks.triggered_scans", "schedule": crontab(hour=7, minute=30)},
    # Bonus miles of ticketed bookings whose credit task the broker lost.
    "marketing-bonus-miles-sweep": {"task": "marketing.tasks.bonus_miles_sweep", "schedule": 3600.0},
}
# At most this many marketing messages reach one customer in any 7 days; further deliveries are skipped.
MARKETING_FREQUENCY_CAP = env.int("MARKETING_FREQUENCY_CAP", default=3)
# A campaign whose audience is larger than this waits for a second marketer's approval before it goes.
MARKETING_APPROVAL_AUDIENCE = env.int("MARKETING_APPROVAL_AUDIENCE", default=10000)
# A booking this many days after a click counts as the campaign's conversion (a code counts whenever).
MARKETING_ATTRIBUTION_DAYS = env.int("MARKETING_ATTRIBUTION_DAYS", default=7)
# A delivery that failed this many times is given up (marked failed), not retried for ever.
MARKETING_SEND_ATTEMPTS = env.int("MARKETING_SEND_ATTEMPTS", default=5)
# Shared with the e-mail provider: its bounce webhook (POST /t/bounce/) sends it in X-Marketing-Webhook-Secret.
# The local default is derived from SECRET_KEY, so it is as secret as SECRET_KEY (which check --deploy enforces).
MARKETING_WEBHOOK_SECRET = env.str(
    "MARKETING_WEBHOOK_SECRET", default=hashlib.sha256(f"marketing-webhook:{SECRET_KEY}".encode()).hexdigest()
)
# Messages per second each channel's provider accepts from us, across all campaign workers.
MARKETING_RATE_LIMITS = {
    "email": env.int("MARKETING_EMAIL_RATE", default=2000),
    "sms": env.int("MARKETING_SMS_RATE", default=50),
    "push": env.int("MARKETING_PUSH_RATE", default=500),
}
# Where SMS and push go: "console" prints them, "locmem" keeps them in marketing.channels.outbox (tests).
MARKETING_SMS_BACKEND = env.str("MARKETING_SMS_BACKEND", default="console")
MARKETING_PUSH_BACKEND = env.str("MARKETING_PUSH_BACKEND", default="console")

PHONENUMBER_DEFAULT_REGION = env.str("PHONENUMBER_DEFAULT_REGION", default=None)
PHONENUMBER_DEFAULT_FORMAT = "E164"

# Airline identity used on tickets, boarding passes and e-mails.
AIRLINE_NAME = env.str("AIRLINE_NAME", default="Aurora Air")
if "<" not in DEFAULT_FROM_EMAIL:
    _quoted_name = AIRLINE_NAME.replace("\\", "\\\\").replace('"', '\\"')
    DEFAULT_FROM_EMAIL = f'"{_quoted_name}" <{DEFAULT_FROM_EMAIL.strip()}>'
SERVER_EMAIL = DEFAULT_FROM_EMAIL
AIRLINE_DESIGNATOR = env.str("AIRLINE_DESIGNATOR", default="AU")
SITE_URL = env.str("SITE_URL", default="http://localhost:8000")
# Customers one page of the duplicate review compares with everyone recorded before them.
DUPLICATE_REVIEW_WINDOW = env.int("DUPLICATE_REVIEW_WINDOW", default=1000)
# First three digits of every e-ticket number (the airline's accounting code).
AIRLINE_TICKET_PREFIX = env.str("AIRLINE_TICKET_PREFIX", default="878")
# The payment gateway class (dotted path); the simulated card gateway needs no account and no network.
PAYMENT_GATEWAY = env.str("PAYMENT_GATEWAY", default="reservations.gateway.SimulatedCardGateway")

# Reservations rules that operations may tune per deployment.
BOOKING_CURRENCY = env.str("BOOKING_CURRENCY", default="EUR")
BOOKING_HOLD_MINUTES = env.int("BOOKING_HOLD_MINUTES", default=30)
CHECK_IN_OPENS_HOURS = env.int("CHECK_IN_OPENS_HOURS", default=24)
CHECK_IN_CLOSES_MINUTES = env.int("CHECK_IN_CLOSES_MINUTES", default=60)
DISRUPTION_DELAY_MINUTES = env.int("DISRUPTION_DELAY_MINUTES", default=180)
# The longest wait between two flights that search still offers as one journey (a connection).
CONNECTION_MAX_LAYOVER_MINUTES = env.int("CONNECTION_MAX_LAYOVER_MINUTES", default=12 * 60)

# Search text (passport numbers among it) is removed from every line (crm.log_redaction); gunicorn's
# access log does the same through gunicorn.conf.py.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_search": {"()": "crm.log_redaction.RedactSearchFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["redact_search"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="WARNING")},
    "loggers": {
        "axes": {"level": "WARNING"},
        # runserver's request lines, which carry the query string.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
