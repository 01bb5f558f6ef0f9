from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "kiln.events"
    label = "events"

    def ready(self) -> None:
        # Every push (git or web) becomes a "pushed" event after it commits.
        from kiln.events import services
        from kiln.repositories.services import register_push_listener

        register_push_listener(services.record_pushes)
