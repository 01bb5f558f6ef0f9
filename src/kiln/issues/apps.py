from django.apps import AppConfig


class IssuesConfig(AppConfig):
    name = "kiln.issues"
    label = "issues"

    def ready(self) -> None:
        # Importing registers the issue policy, the push listener ("Closes #N" on the default
        # branch), the namespace/project hooks and the event visibility rule for issues.
        from kiln.issues import listeners, policies, services  # noqa: F401
