# The Cloud Run jobs that run plant-cli inside the VPC, and the schedule of the transparency jobs.
#
#   migrate, seed      run by the plant-db-migrations workflow after each apply
#   checkpoint         signs the chain's head and appends it to the published checkpoint file;
#                      on a schedule, and after each migration run
#   verify             recomputes the chain and checks it against the published checkpoints with the
#                      trusted public keys; on a schedule, and after each migration run
#
# Separate jobs (rather than one job with overridden arguments) keep the executors' role at "run this
# job", with no permission to change what it runs.

locals {
  jobs = {
    migrate    = { args = ["migrate"], identity = "jobs", checkpoints = "none" }
    seed       = { args = ["seed"], identity = "jobs", checkpoints = "none" }
    checkpoint = { args = ["checkpoint"], identity = "checkpoint", checkpoints = "write" }
    verify     = { args = ["verify"], identity = "jobs", checkpoints = "read" }
  }

  # Environment of every job; the CLI needs the model directory only for `embed`-style work, but a
  # job must run with the same configuration as the service it maintains.
  jobs_common_env = merge(
    { PLANT_LOG_ORIGIN = local.log_origin },
    var.embed_model_dir == "" ? {} : { PLANT_EMBED_MODEL_DIR = var.embed_model_dir },
  )

  jobs_env = {
    migrate    = local.jobs_common_env
    seed       = local.jobs_common_env
    checkpoint = merge(local.jobs_common_env, { PLANT_CHECKPOINT_FILE = local.checkpoint_file })
    verify = merge(local.jobs_common_env, {
      PLANT_CHECKPOINT_FILE = local.checkpoint_file
      PLANT_TRUSTED_KEYS    = join(",", var.checkpoint_trusted_keys)
    })
  }

  database_url_env = {
    DATABASE_URL = {
      secret  = module.database.database_url_secret_id
      version = module.database.database_url_secret_version
    }
  }

  # The signing key is read from Secret Manager into PLANT_SIGNING_KEY rather than mounted as a file
  # for PLANT_SIGNING_KEY_FILE: Cloud Run creates secret files with mode 0444 (the CLI would warn on
  # every run) and does not document their owner for a non-root user, so a tighter mode could make
  # the key unreadable. Either way the key is in neither the image nor the job's definition.
  jobs_secret_env = {
    migrate = local.database_url_env
    seed    = local.database_url_env
    checkpoint = merge(local.database_url_env, {
      PLANT_SIGNING_KEY = {
        secret  = var.checkpoint_signing_key_secret
        version = var.checkpoint_signing_key_version
      }
    })
    verify = local.database_url_env
  }

  job_identities = {
    jobs       = google_service_account.jobs.email
    checkpoint = google_service_account.checkpoint.email
  }

  # Jobs the migrations workflow executes and waits on.
  workflow_job_roles = {
    for pair in setproduct(keys(local.jobs), ["roles/run.invoker", "roles/run.viewer"]) :
    "${pair[0]} ${pair[1]}" => { job = pair[0], role = pair[1] }
  }
}

# migrate, seed and verify: Cloud SQL, DATABASE_URL and read access to the published checkpoints.
resource "google_service_account" "jobs" {
  account_id   = "${local.name}-jobs"
  display_name = "plant-cli jobs (${var.env})"
}

# checkpoint: the same, plus the signing key and write access to the checkpoint bucket. Kept apart so
# that the migration job's identity can never sign a checkpoint.
resource "google_service_account" "checkpoint" {
  account_id   = "${local.name}-checkpoint"
  display_name = "plant-cli checkpoint (${var.env})"
}

# Conditioned on this environment's instance: every environment shares the project.
resource "google_project_iam_member" "jobs_cloudsql_client" {
  for_each = local.job_identities

  project = var.project_id
  role    = "roles/cloudsql.client"
  member  = "serviceAccount:${each.value}"

  condition {
    title       = module.database.client_condition.title
    description = module.database.client_condition.description
    expression  = module.database.client_condition.expression
  }
}

resource "google_secret_manager_secret_iam_member" "jobs_database_url" {
  for_each = local.job_identities

  secret_id = module.database.database_url_secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${each.value}"
}

resource "google_secret_manager_secret_iam_member" "checkpoint_signing_key" {
  project   = var.project_id
  secret_id = var.checkpoint_signing_key_secret
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.checkpoint.email}"
}

# The deployer creates jobs and schedules that run as these accounts: actAs on each, nothing wider.
resource "google_service_account_iam_member" "deployer_act_as" {
  for_each = {
    jobs       = google_service_account.jobs.name
    checkpoint = google_service_account.checkpoint.name
    scheduler  = google_service_account.scheduler.name
  }

  service_account_id = each.value
  role               = "roles/iam.serviceAccountUser"
  member             = local.deployer
}

resource "google_cloud_run_v2_job" "db" {
  for_each = local.jobs

  name                = "${local.name}-${each.key}"
  location            = var.region
  labels              = local.labels
  deletion_protection = false

  template {
    task_count  = 1
    parallelism = 1

    template {
      service_account = local.job_identities[each.value.identity]
      timeout         = "900s"
      max_retries     = 1
      # Cloud Storage volumes need the second-generation execution environment.
      execution_environment = "EXECUTION_ENVIRONMENT_GEN2"

      vpc_access {
        connector = google_vpc_access_connector.this.id
        egress    = "PRIVATE_RANGES_ONLY"
      }

      volumes {
        name = "cloudsql"

        cloud_sql_instance {
          instances = [module.database.connection_name]
        }
      }

      # The published checkpoints: the CLI appends to (or reads) a plain file, Cloud Run's
      # Cloud Storage FUSE volume turns that into the bucket object.
      dynamic "volumes" {
        for_each = each.value.checkpoints == "none" ? [] : [each.value.checkpoints]

        content {
          name = "checkpoints"

          gcs {
            bucket    = google_storage_bucket.checkpoints.name
            read_only = volumes.value == "read"
          }
        }
      }

      containers {
        # Absolute: the runtime image has no shell and its PATH is not part of the contract.
        image   = var.image
        command = ["/usr/local/bin/plant-cli"]
        args    = each.value.args

        resources {
          limits = {
            cpu    = "1"
            memory = "512Mi"
          }
        }

        dynamic "env" {
          for_each = local.jobs_env[each.key]

          content {
            name  = env.key
            value = env.value
          }
        }

        # Pinned versions, never "latest" (see modules/cloud-run).
        dynamic "env" {
          for_each = local.jobs_secret_env[each.key]

          content {
            name = env.key

            value_source {
              secret_key_ref {
                secret  = env.value.secret
                version = env.value.version
              }
            }
          }
        }

        volume_mounts {
          name       = "cloudsql"
          mount_path = "/cloudsql"
        }

        dynamic "volume_mounts" {
          for_each = each.value.checkpoints == "none" ? [] : [local.checkpoint_mount]

          content {
            name       = "checkpoints"
            mount_path = volume_mounts.value
          }
        }
      }
    }
  }

  depends_on = [
    google_project_iam_member.jobs_cloudsql_client,
    google_secret_manager_secret_iam_member.jobs_database_url,
    google_secret_manager_secret_iam_member.checkpoint_signing_key,
    google_storage_bucket_iam_member.checkpoints,
    google_service_account_iam_member.deployer_act_as,
  ]
}

# What the plant-db-migrations workflow's identity needs: execute each job and wait for the
# execution. Granted on the jobs themselves, so it can run exactly these and change none of them.
resource "google_cloud_run_v2_job_iam_member" "workflow" {
  for_each = local.workflow_job_roles

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_job.db[each.value.job].name
  role     = each.value.role
  member   = "serviceAccount:${var.migrations_service_account}"
}

# ---- the schedule -----------------------------------------------------------------------------

resource "google_service_account" "scheduler" {
  account_id   = "${local.name}-scheduler"
  display_name = "Cloud Scheduler for plant-cli jobs (${var.env})"
}

resource "google_cloud_run_v2_job_iam_member" "scheduler" {
  for_each = toset(["checkpoint", "verify"])

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_job.db[each.key].name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.scheduler.email}"
}

resource "google_cloud_scheduler_job" "transparency" {
  for_each = {
    checkpoint = var.checkpoint_schedule
    verify     = var.verify_schedule
  }

  name             = "${local.name}-${each.key}"
  region           = var.region
  schedule         = each.value
  time_zone        = "Etc/UTC"
  attempt_deadline = "320s"

  retry_config {
    retry_count = 1
  }

  # The Cloud Run Admin API's jobs.run: starts one execution of the job.
  http_target {
    http_method = "POST"
    uri         = "https://run.googleapis.com/v2/projects/${var.project_id}/locations/${var.region}/jobs/${google_cloud_run_v2_job.db[each.key].name}:run"

    oauth_token {
      service_account_email = google_service_account.scheduler.email
      scope                 = "https://www.googleapis.com/auth/cloud-platform"
    }
  }

  # Creating a schedule that runs as the scheduler account needs actAs on it.
  depends_on = [
    google_cloud_run_v2_job_iam_member.scheduler,
    google_service_account_iam_member.deployer_act_as,
  ]
}
