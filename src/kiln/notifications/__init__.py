"""Email notifications (GitLab's `NotificationService`) and notification settings.

- `models`: `NotificationSetting` (global, per group, per project; GitLab's levels and custom
  email events).
- `services`: reading and changing settings (the `/notification_settings` API calls them).
- `listeners`: registers on the packages below (issue listeners in `kiln.issues.observers`,
  merge request listeners in `kiln.merge_requests.hooks`, the note listener of
  `kiln.notes.services`, the pipeline listener of `kiln.ci.observers`, the hourly due-date
  task with `kiln.ci.periodic`); each notifiable change becomes an `events.Event`, queued
  after commit for the background worker (`tasks.send_notification`).
- `recipients`: who gets an email, checked at send time (access to the project and the
  target, blocked users, the actor, levels, unsubscriptions).
- `mentions`: who a text mentions, `@group` expanded to the group's members.
- `emails`: the message with GitLab's threading and `X-GitLab-*` headers.
- `pipelines`: failed, fixed and successful pipeline emails to the pipeline's user.

Layers: this package sits above merge requests (and CI), below the entry points; nothing
below imports it.
"""
