from django.apps import AppConfig


class RepositoriesConfig(AppConfig):
    name = "kiln.repositories"
    label = "repositories"

    def ready(self) -> None:
        from kiln.repositories import lifecycle

        lifecycle.connect()
