"""Portal pages and fragments, calling the same services and selectors as the API."""

from django.http import JsonResponse
from django.shortcuts import render

from .api.openapi import build_openapi


def openapi_json(request):
    return JsonResponse(build_openapi())


def api_docs(request):
    return render(request, "api_docs.html", {"spec": build_openapi()})
