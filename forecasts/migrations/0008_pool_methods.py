# One pooled forecast per (question, method): the equal, recency, quantile and skill pools stored side by side.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('forecasts', '0007_outcomes'),
    ]

    operations = [
        migrations.AlterField(
            model_name='aggregate',
            name='question',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='aggregates', to='forecasts.question'),
        ),
        migrations.AddConstraint(
            model_name='aggregate',
            constraint=models.UniqueConstraint(fields=('question', 'method'), name='one_aggregate_per_method'),
        ),
    ]
