from django.apps import AppConfig


class NotesConfig(AppConfig):
    name = "kiln.notes"
    label = "notes"

    def ready(self) -> None:
        # Importing registers the note policy, the commit noteable and the built-in quick
        # actions (issue commands register from kiln.notes.commands).
        from kiln.notes import commands, commits, policies  # noqa: F401
