"""Kiln's routes plus a view that fails, to test what a client sees of an unexpected error."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from kiln.urls import urlpatterns as kiln_urlpatterns


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("secret detail that must not reach the client")


urlpatterns = [path("-/test-boom", boom), *kiln_urlpatterns]
