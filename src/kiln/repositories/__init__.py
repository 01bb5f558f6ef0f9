"""Repositories of projects: storage location, protected branches and tags, the one git access
decision for every transport, and what happens after a push."""
