"""Routes of the CI/CD pages, under `/<full_path>/-/` (see kiln.web.urls_project and
kiln.web.views.ci, ci_settings), with GitLab's paths."""

from django.urls import URLPattern, URLResolver, path

from kiln.web.views import ci as views
from kiln.web.views import ci_schedules as schedule_views
from kiln.web.views import ci_settings as settings_views
from kiln.web.views import ci_triggers as trigger_views
from kiln.web.views import environments as environment_views

urlpatterns: list[URLPattern | URLResolver] = [
    path("pipelines", views.pipelines, name="ci_pipelines"),
    path("pipelines/new", views.new_pipeline, name="ci_pipeline_new"),
    path("pipelines/<int:pipeline_id>", views.pipeline_show, name="ci_pipeline"),
    path("pipelines/<int:pipeline_id>/retry", views.pipeline_retry, name="ci_pipeline_retry"),
    path("pipelines/<int:pipeline_id>/cancel", views.pipeline_cancel, name="ci_pipeline_cancel"),
    path("jobs", views.jobs, name="ci_jobs"),
    path("jobs/<int:job_id>", views.job_show, name="ci_job"),
    path("jobs/<int:job_id>/trace.json", views.job_trace, name="ci_job_trace"),
    path("jobs/<int:job_id>/raw", views.job_raw, name="ci_job_raw"),
    path("jobs/<int:job_id>/retry", views.job_retry, name="ci_job_retry"),
    path("jobs/<int:job_id>/cancel", views.job_cancel, name="ci_job_cancel"),
    path("jobs/<int:job_id>/play", views.job_play, name="ci_job_play"),
    path("jobs/<int:job_id>/erase", views.job_erase, name="ci_job_erase"),
    path(
        "jobs/<int:job_id>/artifacts/download",
        views.artifacts_download,
        name="ci_artifacts_download",
    ),
    path("jobs/<int:job_id>/artifacts/browse", views.artifacts_browse, name="ci_artifacts"),
    path(
        "jobs/<int:job_id>/artifacts/browse/<path:path>",
        views.artifacts_browse,
        name="ci_artifacts_dir",
    ),
    path(
        "jobs/<int:job_id>/artifacts/file/<path:path>",
        views.artifacts_file,
        name="ci_artifacts_file",
    ),
    path(
        "jobs/<int:job_id>/artifacts/raw/<path:path>",
        views.artifacts_file,
        name="ci_artifacts_raw",
    ),
    path("environments", environment_views.environments, name="ci_environments"),
    path(
        "environments/<int:environment_id>",
        environment_views.environment_show,
        name="ci_environment",
    ),
    path(
        "environments/<int:environment_id>/stop",
        environment_views.environment_stop,
        name="ci_environment_stop",
    ),
    path("pipeline_schedules", schedule_views.index_or_create, name="ci_schedules"),
    path("pipeline_schedules/new", schedule_views.new, name="ci_schedule_new"),
    path("pipeline_schedules/<int:schedule_id>/edit", schedule_views.edit, name="ci_schedule_edit"),
    path("pipeline_schedules/<int:schedule_id>/play", schedule_views.play, name="ci_schedule_play"),
    path(
        "pipeline_schedules/<int:schedule_id>/take_ownership",
        schedule_views.take_ownership,
        name="ci_schedule_take_ownership",
    ),
    path(
        "pipeline_schedules/<int:schedule_id>/delete",
        schedule_views.delete,
        name="ci_schedule_delete",
    ),
    path("settings/ci_cd", settings_views.settings_ci_cd, name="ci_settings"),
    path("variables", settings_views.variable_create, name="ci_variable_create"),
    path("variables/<int:variable_id>/edit", settings_views.variable_edit, name="ci_variable_edit"),
    path(
        "variables/<int:variable_id>/delete",
        settings_views.variable_delete,
        name="ci_variable_delete",
    ),
    path("runners", settings_views.runner_create, name="ci_runner_create"),
    path(
        "runners/toggle_shared_runners",
        settings_views.toggle_shared_runners,
        name="ci_toggle_shared_runners",
    ),
    path(
        "runners/<int:runner_id>/pause",
        settings_views.runner_action,
        {"action": "pause"},
        name="ci_runner_pause",
    ),
    path(
        "runners/<int:runner_id>/resume",
        settings_views.runner_action,
        {"action": "resume"},
        name="ci_runner_resume",
    ),
    path(
        "runners/<int:runner_id>/delete",
        settings_views.runner_action,
        {"action": "delete"},
        name="ci_runner_delete",
    ),
    path("triggers", trigger_views.create, name="ci_trigger_create"),
    path("triggers/<int:trigger_id>/delete", trigger_views.revoke, name="ci_trigger_revoke"),
    path("ci/lint", settings_views.ci_lint, name="ci_lint"),
    path("ci/editor", settings_views.ci_lint, name="ci_editor"),
]
