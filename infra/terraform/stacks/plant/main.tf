# The Plant in one environment: its database, its Cloud Run service, the serverless NEG the shared load
# balancer (stacks/foundation) points at, and the Cloud Run jobs that run plant-cli inside the VPC.
# State lives under env/<env>/plant and nowhere else.

locals {
  name   = "plant-${var.env}"
  labels = merge(var.labels, { app = "plant", env = var.env, managed-by = "terraform" })

  # One job per plant-cli subcommand that deployment runs. Separate jobs (rather than one job with
  # overridden arguments) keep the executors' role at "run this job", with no permission to change
  # what it runs.
  db_jobs = {
    migrate = ["migrate"]
    seed    = ["seed"]
    verify  = ["verify"]
  }
}

resource "google_vpc_access_connector" "this" {
  name          = "${local.name}-vpc"
  region        = var.region
  network       = element(split("/", var.network_id), length(split("/", var.network_id)) - 1)
  ip_cidr_range = var.vpc_connector_cidr
  min_instances = 2
  max_instances = 3
  machine_type  = "e2-micro"
}

module "database" {
  source = "../../modules/cloud-sql"

  project_id             = var.project_id
  region                 = var.region
  env                    = var.env
  network_id             = var.network_id
  tier                   = var.db_tier
  availability_type      = var.db_availability_type
  disk_size_gb           = var.db_disk_size_gb
  max_connections        = var.db_max_connections
  backup_start_time      = var.db_backup_start_time
  retained_backups       = var.db_retained_backups
  point_in_time_recovery = var.db_point_in_time_recovery
  deletion_protection    = var.db_deletion_protection
  labels                 = local.labels
}

# The HS256 signing key for PLANT_JWT_SECRET. Like the database password it is generated here, so it
# is in the Terraform state: the state bucket must be readable only by the deployers.
resource "random_password" "jwt" {
  length  = 64
  special = false
}

resource "google_secret_manager_secret" "jwt" {
  secret_id = "${var.env}-plant-jwt-secret"
  labels    = local.labels

  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_version" "jwt" {
  secret      = google_secret_manager_secret.jwt.id
  secret_data = random_password.jwt.result
}

module "service" {
  source = "../../modules/cloud-run"

  project_id                = var.project_id
  region                    = var.region
  name                      = local.name
  image                     = var.image
  min_instances             = var.min_instances
  max_instances             = var.max_instances
  cloud_sql_connection_name = module.database.connection_name
  vpc_connector_id          = google_vpc_access_connector.this.id
  allow_public_invoker      = var.allow_public_invoker
  invoker_members           = var.invoker_members
  deletion_protection       = var.env == "prod"
  labels                    = local.labels

  plain_env = merge(
    {
      CORS_ORIGINS = var.cors_origins
      # Ingress admits only the load balancer, which appends "<client-ip>,<lb-ip>" to
      # X-Forwarded-For: the trial throttle keys on the entry two from the right.
      PLANT_FORWARDED_HOPS = "2"
    },
    var.embed_model_dir == "" ? {} : { PLANT_EMBED_MODEL_DIR = var.embed_model_dir },
  )

  secret_env = {
    DATABASE_URL     = module.database.database_url_secret_id
    PLANT_JWT_SECRET = google_secret_manager_secret.jwt.id
  }

  # Secret versions must exist before a revision resolves "latest".
  depends_on = [google_secret_manager_secret_version.jwt]
}

# The load balancer's way in. Its name carries a hash of the service it fronts, so if that ever
# changes the new NEG is created beside the old one (create_before_destroy) instead of colliding with
# it; the foundation then moves its backend service to the new NEG before the old one is removed.
resource "google_compute_region_network_endpoint_group" "plant" {
  name                  = "${local.name}-neg-${substr(md5(module.service.service_name), 0, 6)}"
  region                = var.region
  network_endpoint_type = "SERVERLESS"

  cloud_run {
    service = module.service.service_name
  }

  lifecycle {
    create_before_destroy = true
  }
}

# Jobs run as their own identity: Cloud SQL client plus the DATABASE_URL secret, nothing else.
resource "google_service_account" "jobs" {
  account_id   = "${local.name}-jobs"
  display_name = "plant-cli jobs (${var.env})"
}

resource "google_project_iam_member" "jobs_cloudsql_client" {
  project = var.project_id
  role    = "roles/cloudsql.client"
  member  = "serviceAccount:${google_service_account.jobs.email}"
}

resource "google_secret_manager_secret_iam_member" "jobs_database_url" {
  secret_id = module.database.database_url_secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.jobs.email}"
}

# Migrations run here, inside the VPC, through the same Cloud SQL connection as the service: a CI
# runner cannot reach the private IP, a job in the VPC can. `plant-cli migrate` is idempotent and
# safe to run concurrently; `seed` appends nothing when the catalog is already seeded.
resource "google_cloud_run_v2_job" "db" {
  for_each = local.db_jobs

  name                = "${local.name}-${each.key}"
  location            = var.region
  labels              = local.labels
  deletion_protection = false

  template {
    task_count  = 1
    parallelism = 1

    template {
      service_account = google_service_account.jobs.email
      timeout         = "900s"
      max_retries     = 1

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

      containers {
        image   = var.image
        command = ["plant-cli"]
        args    = each.value

        resources {
          limits = {
            cpu    = "1"
            memory = "512Mi"
          }
        }

        env {
          name = "DATABASE_URL"

          value_source {
            secret_key_ref {
              secret  = module.database.database_url_secret_id
              version = "latest"
            }
          }
        }

        volume_mounts {
          name       = "cloudsql"
          mount_path = "/cloudsql"
        }
      }
    }
  }

  depends_on = [
    google_project_iam_member.jobs_cloudsql_client,
    google_secret_manager_secret_iam_member.jobs_database_url,
  ]
}
