from django.apps import AppConfig


class CiConfig(AppConfig):
    name = "kiln.ci"
    label = "ci"

    def ready(self) -> None:
        # Importing registers the policy rules; the push listener turns pushes into pipelines.
        from kiln.ci import mr_pipelines, pipelines, policies  # noqa: F401
        from kiln.repositories.services import register_push_listener

        register_push_listener(pipelines.create_pipelines_for_pushes)
        # Merge requests learn their head pipeline from CI (kiln.merge_requests.hooks).
        mr_pipelines.register()
