"""Webhooks: project, group and system hooks, their SSRF-safe delivery, retries and logs.

- `models`: the hooks (one table with a `kind`) and the log of each delivery attempt.
- `services`: writes (create, update, delete, test, resend) with GitLab's permissions and
  validation; `queries`: reads.
- `triggers`: `execute_project_hooks` and friends, the entry points other packages call (after
  their transaction commits) to send an event, and the push listener.
- `payloads`: GitLab's push and tag push payloads, and the registry of test samples.
- `execution`: one delivery of one payload to one hook (headers, log, failure state).
- `delivery`: the HTTP client that resolves a host once, refuses local addresses and connects
  only to the address it checked.
- `tasks`: the background side (fan-out of pushes, delivery with retries and backoff).
"""
