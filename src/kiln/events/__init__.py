"""Activity events (pushes, issues, notes, merge requests, milestones): the user and project
activity feeds of `/events`, `/projects/:id/events` and `/users/:id/events`.

Other packages call `kiln.events.services.record_event(...)` inside their transaction. Which
events a viewer sees is decided per subject type by rules the owning packages register with
`kiln.events.queries.register_subject_visibility` (issues hide confidential ones, merge
requests follow their feature's access level); pushes need code access."""
