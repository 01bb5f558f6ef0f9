from django.apps import AppConfig


class LabelsConfig(AppConfig):
    name = "kiln.labels"
    label = "labels"

    def ready(self) -> None:
        # Importing registers the policy for labels and the namespace/project hooks.
        from kiln.labels import policies, services  # noqa: F401
