from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "kiln.notifications"
    label = "notifications"

    def ready(self) -> None:
        # Importing registers the listeners on issues, merge requests and notes, and the
        # namespace hook that drops the settings of deleted groups and their projects.
        from kiln.notifications import listeners  # noqa: F401
