"""`kiln runner`: runs CI jobs for a Kiln (or GitLab) server, speaking GitLab's runner protocol.

It is a separate process that talks to the server over HTTP only and never imports server
code (an import-linter contract checks it): the same program serves any coordinator that
speaks the protocol, and the server never trusts it more than it trusts gitlab-runner.

Modules: `config` (the file `register` writes), `client` (the HTTP protocol), `job` (the job
payload), `trace` (masking, the output cap, incremental upload), `artifacts` and `cache`
(archives, safe extraction), `scripts` (the shell scripts a job runs), `executors` (shell with
bubblewrap, kubernetes), `build` (one job from start to final update), `run` (the poll loop),
`cli` (`kiln runner register|run|verify|unregister`).
"""

from __future__ import annotations

NAME = "kiln-runner"
VERSION = "0.1.0"
