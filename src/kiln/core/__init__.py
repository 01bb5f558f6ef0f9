"""The shared kernel: errors, access levels, visibility, pagination, policies, URLs, clock."""
