from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "kiln.web"
    label = "web"
