from django.core.management.base import BaseCommand

from forecasts.services import jobs_requeue


class Command(BaseCommand):
    help = "Send again every job that never reached the broker, or whose worker stopped reporting (crashed)."

    def add_arguments(self, parser):
        parser.add_argument("--stale-seconds", type=int, default=None,
                            help="a running job silent this long counts as lost (default FA_JOB_STALE_SECONDS)")

    def handle(self, *args, stale_seconds=None, **options):
        sent = jobs_requeue(stale_seconds=stale_seconds)
        self.stdout.write(f"re-queued {len(sent)} job(s): {sent}")
