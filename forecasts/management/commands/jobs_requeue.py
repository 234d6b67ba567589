from django.core.management.base import BaseCommand

from forecasts.jobs import jobs_requeue, jobs_retry_failed


class Command(BaseCommand):
    help = "Send again every job that never reached the broker, or whose worker stopped reporting (crashed)."

    def add_arguments(self, parser):
        parser.add_argument("--stale-seconds", type=int, default=None,
                            help="a running job silent this long counts as lost (default FA_JOB_STALE_SECONDS)")
        parser.add_argument("--failed", action="store_true",
                            help="also run every failed job again (once the fault that failed it is fixed)")

    def handle(self, *args, stale_seconds=None, failed=False, **options):
        sent = jobs_requeue(stale_seconds=stale_seconds)
        self.stdout.write(f"re-queued {len(sent)} job(s): {sent}")
        if failed:
            retried = jobs_retry_failed()
            self.stdout.write(f"retried {len(retried)} failed job(s): {retried}")
