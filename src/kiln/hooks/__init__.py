"""Git server hooks. The hook processes are relays: they pass what git tells them to Kiln's
internal API and print Kiln's answer; every decision is made by the server (git_access)."""
