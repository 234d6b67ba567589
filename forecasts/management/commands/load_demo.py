from django.core.management.base import BaseCommand

from forecasts.demo import DEMO_PASSWORD, load_demo


class Command(BaseCommand):
    help = "Load the two reference scenarios (compute 2030, AGI researchers) as finished, awarded competitions."

    def add_arguments(self, parser):
        parser.add_argument("--no-award", action="store_true", help="stop after scoring; leave prizes to do by hand")

    def handle(self, *args, no_award: bool = False, **options):
        for question in load_demo(award=not no_award):
            self.stdout.write(f"  question {question.pk}: {question.title} [{question.status}]")
            if question.status == "resolved":
                self.stdout.write("    not scored yet: is a Celery worker running? Prizes were not awarded.")
        self.stdout.write(
            f"Demo users (password {DEMO_PASSWORD!r}): buck and rohin (experts), alice, bob, carol, dana "
            "(commenters), organizer (staff)."
        )
