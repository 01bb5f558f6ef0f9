from django.apps import AppConfig


class MergeRequestsConfig(AppConfig):
    name = "kiln.merge_requests"
    label = "merge_requests"

    def ready(self) -> None:
        # Importing registers the policy rule; then the push listener, the noteable type
        # for notes, the `!45` reference resolver, the quick actions, the issues' count of
        # closing merge requests, who sees their events, and the webhooks (listener, sample).
        from kiln.events.queries import register_subject_visibility
        from kiln.issues.queries import register_merge_requests_counter
        from kiln.merge_requests import (  # noqa: F401
            commands,
            hooks,
            noteable,
            policies,
            pushes,
            queries,
            services,
            webhooks,
        )
        from kiln.repositories.services import register_push_listener
        from kiln.webhooks.payloads import register_sample

        register_push_listener(pushes.refresh_after_push)
        noteable.register_noteable()
        noteable.register_references()
        commands.register_commands()
        register_merge_requests_counter(queries.closing_merge_requests_counts)
        register_subject_visibility("MergeRequest", queries.events_visibility_q)
        hooks.register_merge_request_listener(webhooks.send)
        register_sample("merge_requests_events", webhooks.sample)
