# Twilio phase 1: a number endpoint says where its calls ring; the conference_started event kind.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('sessions_app', '0010_api_session_details'),
    ]

    operations = [
        migrations.AddField(
            model_name='endpoint',
            name='forward_to',
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.AlterField(
            model_name='sessionevent',
            name='kind',
            field=models.CharField(choices=[('session_started', 'Session Started'), ('answered', 'Answered'), ('held', 'Held'), ('resumed', 'Resumed'), ('hold_reason_changed', 'Hold Reason Changed'), ('call_state_changed', 'Call State Changed'), ('queue_state_changed', 'Queue State Changed'), ('console_data_changed', 'Console Data Changed'), ('member_invited', 'Member Invited'), ('member_answered', 'Member Answered'), ('member_left', 'Member Left'), ('member_held', 'Member Held'), ('member_resumed', 'Member Resumed'), ('member_muted', 'Member Muted'), ('member_unmuted', 'Member Unmuted'), ('conference_started', 'Conference Started'), ('ended', 'Ended'), ('provider_failed', 'Provider Failed'), ('note', 'Note')], max_length=24),
        ),
    ]
