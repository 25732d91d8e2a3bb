variable "project_id" {
  description = "Google Cloud project that owns the instance."
  type        = string
}

variable "region" {
  description = "Region of the instance; Cloud Run must be in the same region for the lowest latency."
  type        = string
}

variable "env" {
  description = "Environment name (demo, uat, prod); prefixes every resource name."
  type        = string

  validation {
    condition     = contains(["demo", "uat", "prod"], var.env)
    error_message = "env must be one of demo, uat, prod."
  }
}

variable "network_id" {
  description = "Self link or id of the VPC that has private services access configured; the instance gets a private IP in it and no public IP."
  type        = string
}

variable "database_version" {
  description = "Cloud SQL PostgreSQL version; 15 or newer so that pgvector's HNSW indexes are available."
  type        = string
  default     = "POSTGRES_18"

  validation {
    condition     = can(regex("^POSTGRES_(1[5-9]|[2-9][0-9])$", var.database_version))
    error_message = "database_version must be POSTGRES_15 or newer."
  }
}

variable "tier" {
  description = "Machine tier, e.g. db-custom-2-7680."
  type        = string
}

variable "availability_type" {
  description = "ZONAL or REGIONAL (a standby in a second zone with automatic failover)."
  type        = string
  default     = "ZONAL"

  validation {
    condition     = contains(["ZONAL", "REGIONAL"], var.availability_type)
    error_message = "availability_type must be ZONAL or REGIONAL."
  }
}

variable "disk_size_gb" {
  description = "Initial PD-SSD size in GB; autoresize grows it."
  type        = number
  default     = 20
}

variable "disk_autoresize_limit_gb" {
  description = "Upper bound for disk autoresize in GB (0 = no limit)."
  type        = number
  default     = 500
}

variable "ssl_mode" {
  description = "How Cloud SQL enforces TLS. ENCRYPTED_ONLY refuses plaintext; TRUSTED_CLIENT_CERTIFICATE_REQUIRED also demands a client certificate (the Cloud SQL connector used by Cloud Run presents one)."
  type        = string
  default     = "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"

  validation {
    condition     = contains(["ENCRYPTED_ONLY", "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"], var.ssl_mode)
    error_message = "ssl_mode must require encryption: ENCRYPTED_ONLY or TRUSTED_CLIENT_CERTIFICATE_REQUIRED."
  }
}

variable "backup_start_time" {
  description = "UTC start of the daily backup window, HH:MM."
  type        = string
  default     = "03:00"

  validation {
    condition     = can(regex("^([01][0-9]|2[0-3]):[0-5][0-9]$", var.backup_start_time))
    error_message = "backup_start_time must be HH:MM in 24-hour UTC."
  }
}

variable "retained_backups" {
  description = "Number of daily backups kept."
  type        = number
  default     = 7

  validation {
    condition     = var.retained_backups >= 1 && var.retained_backups <= 365
    error_message = "retained_backups must be between 1 and 365."
  }
}

variable "point_in_time_recovery" {
  description = "Keep write-ahead logs so the database can be restored to any second inside the retention window."
  type        = bool
  default     = true
}

variable "transaction_log_retention_days" {
  description = "Days of write-ahead log kept for point-in-time recovery (1-7 on the Enterprise edition)."
  type        = number
  default     = 7

  validation {
    condition     = var.transaction_log_retention_days >= 1 && var.transaction_log_retention_days <= 7
    error_message = "transaction_log_retention_days must be between 1 and 7."
  }
}

variable "max_connections" {
  description = "PostgreSQL max_connections; must cover max Cloud Run instances x the connections of one server (PLANT_DB_POOL_SIZE, plus PLANT_GROUP_COMMIT_APPENDERS for the group commit and one LISTEN connection), plus the migration job and a margin."
  type        = number
  default     = 100
}

variable "deletion_protection" {
  description = "Refuse to delete the instance (both in Terraform and in the Cloud SQL API)."
  type        = bool
  default     = true
}

variable "database_name" {
  description = "Name of the application database."
  type        = string
  default     = "plant"
}

variable "user_name" {
  description = "Name of the application's database user."
  type        = string
  default     = "plant"
}

variable "password_version" {
  description = "Version of the generated database password. The password is write-only (never in state or plan); raising this number generates a new one and writes it to the user and the DATABASE_URL secret in one apply."
  type        = number
  default     = 1

  validation {
    condition     = var.password_version >= 1 && floor(var.password_version) == var.password_version
    error_message = "password_version must be a positive whole number."
  }
}

variable "labels" {
  description = "Labels applied to the instance and the secret."
  type        = map(string)
  default     = {}
}
