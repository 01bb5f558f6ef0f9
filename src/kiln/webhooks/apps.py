from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "kiln.webhooks"
    label = "webhooks"

    def ready(self) -> None:
        # Every git or web push reaches the hooks through this listener (after commit).
        from kiln.repositories.services import register_push_listener
        from kiln.webhooks import triggers

        register_push_listener(triggers.on_pushes)
