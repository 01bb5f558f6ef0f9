from django.apps import AppConfig


class MilestonesConfig(AppConfig):
    name = "kiln.milestones"
    label = "milestones"

    def ready(self) -> None:
        from kiln.milestones import policies  # noqa: F401
