from django.apps import AppConfig


class NamespacesConfig(AppConfig):
    name = "kiln.namespaces"
    label = "namespaces"

    def ready(self) -> None:
        from kiln.namespaces import policies  # noqa: F401  (registers the rules)
