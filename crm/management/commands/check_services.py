"""Are PostgreSQL and Redis up? One sentence per service that is not, and a non-zero exit."""

import sys

from django.core.management.base import BaseCommand

from crm.management.commands._services import service_problems


class Command(BaseCommand):
    help = "Check that PostgreSQL and Redis answer; print one sentence per unreachable service and exit 1."
    requires_system_checks = []
    requires_migrations_checks = False

    def handle(self, *args, **options) -> None:
        problems = service_problems()
        for problem in problems:
            self.stderr.write(problem)
        if problems:
            sys.exit(1)
        if options["verbosity"] >= 1:
            self.stdout.write("PostgreSQL and Redis are reachable.")
