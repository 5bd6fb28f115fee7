# Indexes the EXPLAIN benchmark (tests/bench/bench_explain.py) showed missing on 1,000,000 cases.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0007_province"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="case",
            index=models.Index(
                fields=["district", "channel", "-received_at"], name="case_channel_idx"
            ),
        ),
    ]
