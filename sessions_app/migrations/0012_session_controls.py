# Issue 7, phase 2: who monitors a session (mode, leg), a supervisor's monitoring destination,
# and the event kinds of the call controls (member removed, redirected, monitor started/changed/
# ended).

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('sessions_app', '0011_twilio_number_routing'),
    ]

    operations = [
        migrations.AddField(
            model_name='callsession',
            name='monitor_call_sid',
            field=models.CharField(blank=True, db_index=True, max_length=64, null=True),
        ),
        migrations.AddField(
            model_name='callsession',
            name='monitor_destination',
            field=models.CharField(blank=True, max_length=200, null=True),
        ),
        migrations.AddField(
            model_name='callsession',
            name='monitor_mode',
            field=models.CharField(blank=True, choices=[('Listen', 'Listen'), ('Coach', 'Coach'), ('Barge', 'Barge')], default='', max_length=8),
        ),
        migrations.AddField(
            model_name='callsession',
            name='monitor_started_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='callsession',
            name='monitored_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='user',
            name='monitor_destination',
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.AlterField(
            model_name='sessionevent',
            name='kind',
            field=models.CharField(choices=[('session_started', 'Session Started'), ('answered', 'Answered'), ('held', 'Held'), ('resumed', 'Resumed'), ('hold_reason_changed', 'Hold Reason Changed'), ('call_state_changed', 'Call State Changed'), ('queue_state_changed', 'Queue State Changed'), ('console_data_changed', 'Console Data Changed'), ('member_invited', 'Member Invited'), ('member_answered', 'Member Answered'), ('member_left', 'Member Left'), ('member_held', 'Member Held'), ('member_resumed', 'Member Resumed'), ('member_muted', 'Member Muted'), ('member_unmuted', 'Member Unmuted'), ('conference_started', 'Conference Started'), ('member_removed', 'Member Removed'), ('redirected', 'Redirected'), ('monitor_started', 'Monitor Started'), ('monitor_changed', 'Monitor Changed'), ('monitor_ended', 'Monitor Ended'), ('ended', 'Ended'), ('provider_failed', 'Provider Failed'), ('note', 'Note')], max_length=24),
        ),
    ]
