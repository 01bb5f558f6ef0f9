"""Git over SSH: an asyncssh server (`kiln ssh`) and OpenSSH's forced command (`kiln shell`),
both through one dispatcher."""
