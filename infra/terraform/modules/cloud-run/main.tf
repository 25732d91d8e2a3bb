# plant-server on Cloud Run (v2 API): reachable only from inside the VPC and through the load balancer,
# never invoked by allUsers, running as its own service account that can reach exactly one database and
# read exactly the secrets it is given.

resource "google_service_account" "service" {
  project      = var.project_id
  account_id   = "${var.name}-run"
  display_name = "Cloud Run service ${var.name}"
}

# Every environment shares one project, so a project-wide Cloud SQL client role would let this
# environment's identity connect to every other environment's instance. The condition (from the
# cloud-sql module) limits it to this environment's instance.
resource "google_project_iam_member" "cloudsql_client" {
  project = var.project_id
  role    = "roles/cloudsql.client"
  member  = "serviceAccount:${google_service_account.service.email}"

  condition {
    title       = var.cloud_sql_client_condition.title
    description = var.cloud_sql_client_condition.description
    expression  = var.cloud_sql_client_condition.expression
  }
}

resource "google_secret_manager_secret_iam_member" "accessor" {
  for_each = var.secret_env

  project   = var.project_id
  secret_id = each.value.secret
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.service.email}"
}

# The Managed Service for Prometheus sidecar writes the scraped series with the service's identity.
resource "google_project_iam_member" "metric_writer" {
  count = var.metrics_port == null ? 0 : 1

  project = var.project_id
  role    = "roles/monitoring.metricWriter"
  member  = "serviceAccount:${google_service_account.service.email}"
}

# Deploying a revision that runs as this account needs iam.serviceAccounts.actAs on it; granting it
# here, on this account only, keeps the deployer free of a project-wide Service Account User role.
resource "google_service_account_iam_member" "deployer_act_as" {
  for_each = toset(var.deployer_members)

  service_account_id = google_service_account.service.name
  role               = "roles/iam.serviceAccountUser"
  member             = each.value
}

resource "google_cloud_run_v2_service" "this" {
  project             = var.project_id
  name                = var.name
  location            = var.region
  labels              = var.labels
  deletion_protection = var.deletion_protection

  # Only internal traffic and Google Cloud load balancers reach the service; its run.app URL answers
  # 404 to the internet.
  ingress = "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"

  # See allow_public_invoker: the check is switched off only when asked, and no allUsers binding is ever
  # created, so widening ingress later would not silently expose the service.
  invoker_iam_disabled = var.allow_public_invoker

  template {
    service_account                  = google_service_account.service.email
    timeout                          = "${var.request_timeout_seconds}s"
    max_instance_request_concurrency = var.concurrency

    scaling {
      min_instance_count = var.min_instances
      max_instance_count = var.max_instances
    }

    vpc_access {
      connector = var.vpc_connector_id
      egress    = "PRIVATE_RANGES_ONLY"
    }

    volumes {
      name = "cloudsql"

      cloud_sql_instance {
        instances = [var.cloud_sql_connection_name]
      }
    }

    containers {
      name  = "plant"
      image = var.image

      ports {
        container_port = var.port
      }

      resources {
        limits = {
          cpu    = var.cpu
          memory = var.memory
        }
        cpu_idle          = true
        startup_cpu_boost = true
      }

      dynamic "env" {
        for_each = merge(
          var.plain_env,
          var.metrics_port == null ? {} : { PLANT_METRICS_PORT = tostring(var.metrics_port) },
        )

        content {
          name  = env.key
          value = env.value
        }
      }

      dynamic "env" {
        for_each = var.secret_env

        content {
          name = env.key

          value_source {
            # A pinned version, never "latest": the revision then depends on the version
            # resource (it cannot start before the secret has a value) and a new version rolls
            # out a new revision instead of being picked up at some later cold start.
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

      # /health is liveness only (no database round trip), so a slow database never restarts
      # healthy instances; /ready is for the load balancer's and operators' eyes.
      startup_probe {
        initial_delay_seconds = 0
        period_seconds        = 2
        timeout_seconds       = 1
        failure_threshold     = 30

        http_get {
          path = "/health"
          port = var.port
        }
      }

      liveness_probe {
        period_seconds    = 15
        timeout_seconds   = 3
        failure_threshold = 3

        http_get {
          path = "/health"
          port = var.port
        }
      }
    }

    # Managed Service for Prometheus: the collector scrapes 127.0.0.1:8080/metrics (its default
    # target, which is why metrics_port defaults to 8080) and writes to Cloud Monitoring. The
    # metrics listener is never the serving port, so /metrics is not reachable through the
    # load balancer.
    dynamic "containers" {
      for_each = var.metrics_port == null ? [] : [var.metrics_sidecar_image]

      content {
        name       = "collector"
        image      = containers.value
        depends_on = ["plant"]

        resources {
          limits = {
            cpu    = "1"
            memory = "512Mi"
          }
          cpu_idle = true
        }
      }
    }
  }

  # Grants first: a revision whose identity cannot read its secrets fails to start.
  depends_on = [
    google_project_iam_member.cloudsql_client,
    google_project_iam_member.metric_writer,
    google_secret_manager_secret_iam_member.accessor,
    google_service_account_iam_member.deployer_act_as,
  ]
}

resource "google_cloud_run_v2_service_iam_member" "invoker" {
  for_each = toset(var.invoker_members)

  project  = var.project_id
  location = google_cloud_run_v2_service.this.location
  name     = google_cloud_run_v2_service.this.name
  role     = "roles/run.invoker"
  member   = each.value
}
