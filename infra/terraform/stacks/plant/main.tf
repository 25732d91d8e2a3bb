# The Plant in one environment: its database, its Cloud Run service and the serverless NEG the shared
# load balancer (stacks/foundation) points at; jobs.tf holds the Cloud Run jobs that run plant-cli
# inside the VPC and their schedule, checkpoints.tf the bucket the checkpoints are published to.
# State lives under env/<env>/plant and nowhere else.

locals {
  name   = "plant-${var.env}"
  labels = merge(var.labels, { app = "plant", env = var.env, managed-by = "terraform" })

  # The log's name in its checkpoints: the environment's public host + "/audit".
  log_origin = "${var.public_host}/audit"

  # Where the checkpoint bucket is mounted in the jobs, and the file the checkpoints are appended to.
  checkpoint_mount = "/checkpoints"
  checkpoint_file  = "${local.checkpoint_mount}/checkpoints.jsonl"

  deployer = "serviceAccount:${var.deployer_service_account}"
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
  password_version       = var.db_password_version
  labels                 = local.labels
}

# The HS256 signing key for PLANT_JWT_SECRET, generated like the database password: an ephemeral value
# written only through the write-only `secret_data_wo`, so it is in neither the state nor a saved
# plan. Raise jwt_secret_version to rotate it (every issued token becomes invalid).
ephemeral "random_password" "jwt" {
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
  secret                 = google_secret_manager_secret.jwt.id
  secret_data_wo         = ephemeral.random_password.jwt.result
  secret_data_wo_version = var.jwt_secret_version
}

# The ed25519 seed that signs A2A 1.0 agent cards (PLANT_CARD_SIGNING_KEY, 64 hex digits: the
# SHA-256 of an ephemeral random value), written only through `secret_data_wo` like the JWT key.
# Every instance signs with this one key, so the key set at /.well-known/jwks.json verifies a card
# whichever instance served either. Raise card_key_version to rotate it (cards signed before stop
# verifying once clients fetch the new key set).
ephemeral "random_password" "card_key" {
  length  = 64
  special = false
}

resource "google_secret_manager_secret" "card_key" {
  secret_id = "${var.env}-plant-card-signing-key"
  labels    = local.labels

  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_version" "card_key" {
  secret                 = google_secret_manager_secret.card_key.id
  secret_data_wo         = sha256(ephemeral.random_password.card_key.result)
  secret_data_wo_version = var.card_key_version
}

module "service" {
  source = "../../modules/cloud-run"

  project_id                 = var.project_id
  region                     = var.region
  name                       = local.name
  image                      = var.image
  min_instances              = var.min_instances
  max_instances              = var.max_instances
  cloud_sql_connection_name  = module.database.connection_name
  cloud_sql_client_condition = module.database.client_condition
  vpc_connector_id           = google_vpc_access_connector.this.id
  allow_public_invoker       = var.allow_public_invoker
  invoker_members            = var.invoker_members
  deployer_members           = [local.deployer]
  deletion_protection        = var.env == "prod"
  labels                     = local.labels

  plain_env = merge(
    {
      CORS_ORIGINS     = var.cors_origins
      PLANT_PUBLIC_URL = "https://${var.public_host}"
      PLANT_LOG_ORIGIN = local.log_origin
      # Ingress admits only the load balancer, which appends "<client-ip>,<lb-ip>" to
      # X-Forwarded-For: the trial throttle keys on the entry two from the right.
      PLANT_FORWARDED_HOPS = "2"
    },
    var.embed_model_dir == "" ? {} : { PLANT_EMBED_MODEL_DIR = var.embed_model_dir },
  )

  # Pinned versions: the service waits for each version (the DATABASE_URL version itself waits for
  # the database and its user) and a new version rolls out a new revision.
  secret_env = {
    DATABASE_URL = {
      secret  = module.database.database_url_secret_id
      version = module.database.database_url_secret_version
    }
    PLANT_JWT_SECRET = {
      secret  = google_secret_manager_secret.jwt.id
      version = google_secret_manager_secret_version.jwt.version
    }
    PLANT_CARD_SIGNING_KEY = {
      secret  = google_secret_manager_secret.card_key.id
      version = google_secret_manager_secret_version.card_key.version
    }
  }
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
