from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "kiln.core"
    label = "core"
    verbose_name = "Kiln core"

    def ready(self) -> None:
        from kiln.core import appsettings  # noqa: F401  (connects cache invalidation signals)
