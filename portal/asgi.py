"""The ASGI application (`portal.asgi:application`), served by uvicorn (`portal.serve`)."""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

application = get_asgi_application()

# Everything loaded so far (Django, the apps, the URL map) lives as long as the process: move it
# out of the collector's reach so that full collections triggered by a large response only scan
# the request's own objects.
gc.freeze()
