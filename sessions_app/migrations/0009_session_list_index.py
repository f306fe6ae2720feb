"""ListSessions' indexes: a page of sessions in the default order (newest first, the id
breaking ties), within an account or across all of them, read straight off an index."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("sessions_app", "0008_api_session_auth_hash"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="callsession",
            index=models.Index(
                fields=["account", "-date_created", "-id"], name="session_list_account_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="callsession",
            index=models.Index(fields=["-date_created", "-id"], name="session_list_idx"),
        ),
    ]
