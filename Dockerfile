# The application image: web (gunicorn), worker and beat (Celery) all run from it.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# gettext compiles the translations.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gettext \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dependencies first (pinned by requirements.lock), so code changes reuse this layer.
COPY pyproject.toml requirements.lock README.md ./
RUN pip install -c requirements.lock .

COPY . .
RUN python manage.py compilemessages --ignore .venv -v 0 \
    && python manage.py collectstatic --noinput -v 0 \
    && useradd --create-home --uid 10001 airline \
    && chown -R airline /app/staticfiles

USER airline
EXPOSE 8000
CMD ["gunicorn", "crm.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
