from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "kiln.projects"
    label = "projects"

    def ready(self) -> None:
        from kiln.projects import policies  # noqa: F401  (registers the rules)
