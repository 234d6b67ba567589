from django.core.management.base import BaseCommand

from forecasts import selectors
from forecasts.models import Question
from forecasts.permissions import SCORED_STATES


class Command(BaseCommand):
    help = ("Which pooling method anticipates the expert best: per method, the mean KL(posterior || pool) and mean "
            "skill over every scored question (from the pools the pooled-forecast job stored).")

    def handle(self, *args, **options):
        questions = Question.objects.filter(status__in=SCORED_STATES).order_by("pk")
        rows = selectors.pools_across([{"pools": selectors.pools_compared(q)} for q in questions])
        self.stdout.write(f"{'method':10} {'questions':>9} {'mean KL (nats)':>15} {'mean skill':>11}")
        for row in rows:
            kl = "-" if row["mean_kl"] is None else f"{row['mean_kl']:.4f}"
            skill = "-" if row["mean_skill"] is None else f"{row['mean_skill']:.4f}"
            self.stdout.write(f"{row['method']:10} {row['n_questions']:>9} {kl:>15} {skill:>11}")
        scored = [r for r in rows if r["mean_kl"] is not None]
        if not scored:
            self.stdout.write("No scored question has stored pools yet.")
            return
        # Each method is scored on the same questions (the job stores all four together), so the means compare.
        best = min(scored, key=lambda r: r["mean_kl"])
        self.stdout.write(f"Best (lowest mean KL to the posterior): {best['method']}")
