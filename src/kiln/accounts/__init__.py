"""Users, personal access tokens, SSH keys, sign-in and the `Actor` every service receives."""
