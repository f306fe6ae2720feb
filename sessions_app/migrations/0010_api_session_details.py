# Issue 8, items 2 and 3: failed sign-ins for the throttle, and what the API sessions page
# shows of each ss-id session (a public id for its URLs: existing rows get one each).

import secrets

import django.utils.timezone
from django.db import migrations, models

import sessions_app.models


def give_public_ids(apps, schema_editor):
    ApiAuthSession = apps.get_model("sessions_app", "ApiAuthSession")
    for row in ApiAuthSession.objects.filter(public_id__isnull=True).only("pk"):
        row.public_id = secrets.token_urlsafe(12)
        row.save(update_fields=["public_id"])


class Migration(migrations.Migration):

    dependencies = [
        ('sessions_app', '0009_session_list_index'),
    ]

    operations = [
        migrations.CreateModel(
            name='AuthFailure',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('username', models.CharField(max_length=150)),
                ('address', models.CharField(blank=True, max_length=45)),
                ('via', models.CharField(choices=[('api', 'Api'), ('portal', 'Portal'), ('provider', 'Provider'), ('system', 'System')], max_length=10)),
                ('at', models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                'indexes': [models.Index(fields=['username', 'address', '-at'], name='auth_failure_window'), models.Index(fields=['at'], name='auth_failure_at')],
            },
        ),
        migrations.AddField(
            model_name='apiauthsession',
            name='public_id',
            field=models.CharField(max_length=16, null=True),
        ),
        migrations.RunPython(give_public_ids, migrations.RunPython.noop),
        migrations.AlterField(
            model_name='apiauthsession',
            name='public_id',
            field=models.CharField(default=sessions_app.models.new_api_session_public_id, max_length=16, unique=True),
        ),
        migrations.AddField(
            model_name='apiauthsession',
            name='address',
            field=models.CharField(blank=True, max_length=45),
        ),
        migrations.AddField(
            model_name='apiauthsession',
            name='user_agent',
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.AddField(
            model_name='apiauthsession',
            name='last_used',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='apiauthsession',
            name='last_used_address',
            field=models.CharField(blank=True, max_length=45),
        ),
    ]
