"""gunicorn reads this file from the directory it starts in (Procfile, Dockerfile, docker-compose.yml).

The access log goes through crm.log_redaction.GunicornLogger, which removes customer-search text
(passport and ID numbers among it) from request lines and Referer headers.
"""

logger_class = "crm.log_redaction.GunicornLogger"
