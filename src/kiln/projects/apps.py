from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "kiln.projects"
    label = "projects"

    def ready(self) -> None:
        # Importing registers the policy rules and the namespace hooks (project deletion with
        # its namespace, path claims, visibility limits, counts).
        from kiln.projects import policies, services  # noqa: F401
