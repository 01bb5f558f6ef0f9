"""Pipeline emails (GitLab's `pipeline_finished`): failed, fixed and successful pipelines.

Only the pipeline's user (who pushed, ran or scheduled it) hears of it, as a `watch`
candidate with the custom action `<status>_pipeline` (`kiln.notifications.recipients.
level_takes`): `participating` and `watch` take failed and fixed pipelines, `custom` takes
what its flags say (failed and fixed are on by default; a fixed pipeline also reaches those
with `success_pipeline` on), `mention` and `disabled` take none, and only `custom` with
`success_pipeline` takes a plain success. Their own pipelines do reach them (nobody "acted").
They must still be active and able to read the project's pipelines, and the project's
emails must be on.

Which email: a failed pipeline is "failed"; a successful one is "fixed" when it is the newest
finished pipeline of its ref and the previous finished one (success or failed) failed, else
"success" (GitLab keeps that state on its `Ci::Ref`; Kiln reads it off the pipelines).
"""

from __future__ import annotations

from django.core.mail import EmailMessage

from kiln.ci import statuses as st
from kiln.ci.models import Job, Pipeline, PipelineSource
from kiln.core.actor import Actor
from kiln.core.policy import can
from kiln.core.urls import base_url
from kiln.notifications import emails
from kiln.notifications.events import Event, custom_action_of
from kiln.notifications.recipients import WATCH, Settings, emails_enabled, level_takes

# The subject's word for each email (GitLab's `pipeline_<status>_email`).
LABELS = {"failed": "Failed", "fixed": "Fixed", "success": "Successful"}
HEADLINES = {
    "failed": "Your pipeline has failed.",
    "fixed": "Your pipeline has been fixed!",
    "success": "Your pipeline has passed.",
}


def notification_status(pipeline: Pipeline, status: str) -> str | None:
    """ "failed", "fixed" or "success" for a pipeline that just reached `status`; None when
    no email is due (another status, or nobody ran it)."""
    if status not in (st.SUCCESS, st.FAILED) or pipeline.user_id is None:
        return None
    if status == st.FAILED:
        return "failed"
    same_ref = Pipeline.objects.filter(
        project_id=pipeline.project_id, ref=pipeline.ref, tag=pipeline.tag
    ).exclude(source=PipelineSource.PARENT_PIPELINE)
    if same_ref.filter(pk__gt=pipeline.pk, status__in=st.COMPLETED).exists():
        return "success"  # a newer pipeline already finished: the ref's state is its own
    previous = (
        same_ref.filter(pk__lt=pipeline.pk, status__in=(st.SUCCESS, st.FAILED))
        .order_by("-pk")
        .values_list("status", flat=True)
        .first()
    )
    return "fixed" if previous == st.FAILED else "success"


def build_pipeline_message(pipeline: Pipeline, which: str, to: str) -> EmailMessage:
    project = pipeline.project
    short_sha = pipeline.sha[:8]
    info = pipeline.commit_info or {}
    url = f"{base_url()}/{project.full_path}/-/pipelines/{pipeline.pk}"
    user = pipeline.user
    lines = [
        HEADLINES[which],
        "",
        f"Project: {project.full_path}",
        f"{'Tag' if pipeline.tag else 'Branch'}: {pipeline.ref}",
        f"Commit: {short_sha} {emails.one_line(str(info.get('title', '')))}".rstrip(),
    ]
    if info.get("author_name"):
        lines.append(f"Commit Author: {info['author_name']}")
    if user is not None:
        lines.append(f"Pipeline #{pipeline.pk} triggered by {user.name or user.username}")
    if which == "failed":
        failed = list(
            Job.objects.filter(pipeline=pipeline, retried=False, status=st.FAILED)
            .exclude(allow_failure=True)
            .order_by("stage_idx", "pk")
            .values_list("stage", "name")
        )
        noun = "job" if len(failed) == 1 else "jobs"
        lines += ["", f"It had {len(failed)} failed {noun}:"]
        lines += [f"  {stage}: {name}" for stage, name in failed]
    lines += ["", "-- ", f"View it on Kiln: {url}"]
    label = LABELS[which]
    subject = f"{project.name} | {label} pipeline for {pipeline.ref} | {short_sha}"
    headers = emails.project_headers(project)
    headers.update(
        {
            "X-GitLab-Pipeline-Id": str(pipeline.pk),
            "X-GitLab-Pipeline-Ref": pipeline.ref,
            "X-GitLab-Pipeline-Status": pipeline.status,
        }
    )
    return EmailMessage(
        subject=subject.replace("\r", " ").replace("\n", " "),
        body="\n".join(lines) + "\n",
        from_email=emails.sender(None),
        to=[to],
        headers=headers,
    )


def pipeline_messages(event: Event) -> list[EmailMessage]:
    """The email about a finished pipeline, if its user is to get one (checked now)."""
    pipeline = (
        Pipeline.objects.select_related("project__namespace", "user")
        .filter(pk=event.target_id)
        .first()
    )
    if pipeline is None or pipeline.user is None or event.action not in LABELS:
        return []
    user, project = pipeline.user, pipeline.project
    if not user.is_active or not user.email.strip() or not emails_enabled(project):
        return []
    settings = Settings(project, [user.pk])
    if not level_takes(settings.effective(user.pk), WATCH, custom_action_of(event)):
        return []
    if not can(Actor(user=user), "read_pipeline", pipeline):
        return []
    to = settings.global_row(user.pk).notification_email or user.email
    return [build_pipeline_message(pipeline, event.action, to)]
