"""Git's smart HTTP protocol: `info/refs`, `git-upload-pack`, `git-receive-pack`."""
