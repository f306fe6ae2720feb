"""Typed session events, the in-flight action claim, the provider inbox, and each held
leg's own hold queue."""

import django.core.serializers.json
import django.db.models.deletion
import django.db.models.functions.text
import django.utils.timezone
import uuid
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('sessions_app', '0001_initial'),
    ]

    operations = [
        migrations.CreateModel(
            name='ActionInFlight',
            fields=[
                ('session', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='action_in_flight', serialize=False, to='sessions_app.callsession')),
                ('action', models.CharField(max_length=40)),
                ('actor_name', models.CharField(max_length=150)),
                ('via', models.CharField(choices=[('api', 'Api'), ('portal', 'Portal'), ('provider', 'Provider'), ('system', 'System')], max_length=10)),
                ('started_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('token', models.UUIDField(default=uuid.uuid4)),
            ],
        ),
        migrations.CreateModel(
            name='ProviderInboxEntry',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('provider', models.CharField(max_length=40)),
                ('event_id', models.CharField(max_length=200)),
                ('call_sid', models.CharField(db_index=True, max_length=64)),
                ('kind', models.CharField(max_length=24)),
                ('data', models.JSONField(blank=True, default=dict, encoder=django.core.serializers.json.DjangoJSONEncoder)),
                ('occurred_at', models.DateTimeField(blank=True, null=True)),
                ('received_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('status', models.CharField(choices=[('pending', 'Pending'), ('applied', 'Applied'), ('ignored', 'Ignored')], default='pending', max_length=10)),
                ('attempts', models.PositiveIntegerField(default=0)),
                ('next_attempt_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('note', models.CharField(blank=True, max_length=300)),
                ('handled_at', models.DateTimeField(blank=True, null=True)),
            ],
            options={
                'verbose_name_plural': 'provider inbox entries',
                'ordering': ['id'],
            },
        ),
        migrations.CreateModel(
            name='SessionEvent',
            fields=[
                ('seq', models.BigAutoField(primary_key=True, serialize=False)),
                ('kind', models.CharField(choices=[('session_started', 'Session Started'), ('answered', 'Answered'), ('held', 'Held'), ('resumed', 'Resumed'), ('hold_reason_changed', 'Hold Reason Changed'), ('call_state_changed', 'Call State Changed'), ('queue_state_changed', 'Queue State Changed'), ('console_data_changed', 'Console Data Changed'), ('member_invited', 'Member Invited'), ('member_answered', 'Member Answered'), ('member_left', 'Member Left'), ('member_held', 'Member Held'), ('member_resumed', 'Member Resumed'), ('member_muted', 'Member Muted'), ('member_unmuted', 'Member Unmuted'), ('ended', 'Ended'), ('provider_failed', 'Provider Failed'), ('note', 'Note')], max_length=24)),
                ('data', models.JSONField(blank=True, default=dict, encoder=django.core.serializers.json.DjangoJSONEncoder)),
                ('actor_name', models.CharField(blank=True, max_length=150)),
                ('via', models.CharField(choices=[('api', 'Api'), ('portal', 'Portal'), ('provider', 'Provider'), ('system', 'System')], default='system', max_length=10)),
                ('date', models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                'ordering': ['seq'],
            },
        ),
        migrations.AddField(
            model_name='providerinboxentry',
            name='session',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='sessions_app.callsession'),
        ),
        migrations.AddField(
            model_name='sessionevent',
            name='actor',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='sessionevent',
            name='session',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='events', to='sessions_app.callsession'),
        ),
        migrations.AddField(
            model_name='providerinboxentry',
            name='session_event',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='sessions_app.sessionevent'),
        ),
        migrations.AddIndex(
            model_name='sessionevent',
            index=models.Index(fields=['session', 'seq'], name='event_session_seq_idx'),
        ),
        migrations.AddIndex(
            model_name='providerinboxentry',
            index=models.Index(condition=models.Q(('status', 'pending')), fields=['next_attempt_at', 'id'], name='inbox_pending_idx'),
        ),
        migrations.AddConstraint(
            model_name='providerinboxentry',
            constraint=models.UniqueConstraint(fields=('provider', 'event_id'), name='inbox_event_once_per_provider'),
        ),
        migrations.AddField(
            model_name='sessionmember',
            name='hold_queue_name',
            field=models.CharField(blank=True, max_length=200, null=True),
        ),
    ]
