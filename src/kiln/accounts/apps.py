from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "kiln.accounts"
    label = "accounts"

    def ready(self) -> None:
        from kiln.accounts import policies  # noqa: F401  (registers the rules)
