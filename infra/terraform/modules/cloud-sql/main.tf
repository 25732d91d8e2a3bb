# PostgreSQL for the Plant: private IP only, TLS required, PD-SSD with autoresize, daily backups with
# optional point-in-time recovery, and the DATABASE_URL secret the service and the migration job read.
# pgvector is not switched on here: the application's first migration runs `create extension vector`.
#
# Secret handling: the password is an ephemeral value (Terraform >= 1.11) sent only through write-only
# attributes (`password_wo`, `secret_data_wo`). Neither the state nor a saved plan holds it, so the
# plan artifact the workflow passes from plan to apply, and everyone who can read the state bucket,
# learn nothing about the database credentials. An ephemeral value is new on every run; Terraform
# sends it only when `password_version` changes, so the user's password and the DATABASE_URL secret
# are written together, once per version: raise `password_version` to rotate both.

locals {
  instance_name = "${var.env}-plant-db"
  password      = ephemeral.random_password.user.result

  # Both the user name and the password are URL-encoded: a generated password contains characters such
  # as '@', ':', '/', '#' and '%' that would otherwise end the userinfo part of the URL or be misread
  # as an escape. The socket directory is the query parameter `host`, which the server's URL parser
  # (and libpq) understand as a unix socket path.
  database_url = format(
    "postgres://%s:%s@/%s?host=/cloudsql/%s",
    urlencode(var.user_name),
    urlencode(local.password),
    var.database_name,
    google_sql_database_instance.this.connection_name,
  )
}

ephemeral "random_password" "user" {
  length      = 32
  special     = true
  min_lower   = 2
  min_upper   = 2
  min_numeric = 2
  min_special = 2
}

resource "google_sql_database_instance" "this" {
  # checkov:skip=CKV2_GCP_13:log_duration writes one log line per statement at the API's request rate; statement latency is read from Query Insights (enabled below) instead.
  project             = var.project_id
  name                = local.instance_name
  region              = var.region
  database_version    = var.database_version
  deletion_protection = var.deletion_protection

  settings {
    tier                        = var.tier
    edition                     = "ENTERPRISE"
    availability_type           = var.availability_type
    disk_type                   = "PD_SSD"
    disk_size                   = var.disk_size_gb
    disk_autoresize             = true
    disk_autoresize_limit       = var.disk_autoresize_limit_gb
    deletion_protection_enabled = var.deletion_protection
    user_labels                 = var.labels

    ip_configuration {
      ipv4_enabled    = false
      private_network = var.network_id
      ssl_mode        = var.ssl_mode
    }

    backup_configuration {
      enabled                        = true
      start_time                     = var.backup_start_time
      point_in_time_recovery_enabled = var.point_in_time_recovery
      transaction_log_retention_days = var.transaction_log_retention_days

      backup_retention_settings {
        retained_backups = var.retained_backups
        retention_unit   = "COUNT"
      }
    }

    insights_config {
      query_insights_enabled  = true
      query_string_length     = 1024
      record_application_tags = true
      record_client_address   = false
    }

    maintenance_window {
      day          = 7
      hour         = 4
      update_track = "stable"
    }

    database_flags {
      name  = "max_connections"
      value = tostring(var.max_connections)
    }

    # Operational logging: connection churn, lock waits and temp-file spills are what explain a slow
    # or exhausted pool; statements themselves are not logged (they carry customer data).
    database_flags {
      name  = "log_checkpoints"
      value = "on"
    }

    database_flags {
      name  = "log_connections"
      value = "on"
    }

    database_flags {
      name  = "log_disconnections"
      value = "on"
    }

    database_flags {
      name  = "log_lock_waits"
      value = "on"
    }

    database_flags {
      name  = "log_temp_files"
      value = "0"
    }

    database_flags {
      name  = "log_min_duration_statement"
      value = "-1"
    }

    database_flags {
      name  = "log_min_messages"
      value = "error"
    }

    database_flags {
      name  = "log_min_error_statement"
      value = "error"
    }

    database_flags {
      name  = "log_statement"
      value = "ddl"
    }

    database_flags {
      name  = "log_hostname"
      value = "on"
    }

    database_flags {
      name  = "cloudsql.enable_pgaudit"
      value = "on"
    }
  }
}

resource "google_sql_database" "plant" {
  project  = var.project_id
  name     = var.database_name
  instance = google_sql_database_instance.this.name
}

resource "google_sql_user" "plant" {
  project  = var.project_id
  name     = var.user_name
  instance = google_sql_database_instance.this.name

  password_wo         = local.password
  password_wo_version = var.password_version
}

resource "google_secret_manager_secret" "database_url" {
  project   = var.project_id
  secret_id = "${var.env}-plant-database-url"
  labels    = var.labels

  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_version" "database_url" {
  secret                 = google_secret_manager_secret.database_url.id
  secret_data_wo         = local.database_url
  secret_data_wo_version = var.password_version

  # The user must exist before anything can read a URL that names it.
  depends_on = [google_sql_user.plant, google_sql_database.plant]
}
