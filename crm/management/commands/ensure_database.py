"""Create the configured PostgreSQL database if it does not exist yet (used by `make run`)."""

import sys

from django.conf import settings
from django.core.management.base import BaseCommand

from crm.management.commands._services import database_params, postgres_problem


class Command(BaseCommand):
    help = "Create the database named in DATABASE_URL if it is missing."
    requires_system_checks = []
    requires_migrations_checks = False

    def handle(self, *args, **options) -> None:
        import psycopg2
        from psycopg2 import sql

        problem = postgres_problem()
        if problem:
            self.stderr.write(problem)
            sys.exit(1)
        name = settings.DATABASES["default"]["NAME"]
        connection = psycopg2.connect(**database_params(dbname="postgres"))
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
                if cursor.fetchone():
                    if options["verbosity"] >= 2:
                        self.stdout.write(f"Database {name} exists.")
                    return
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        finally:
            connection.close()
        self.stdout.write(f"Created database {name}.")
