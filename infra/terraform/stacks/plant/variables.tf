variable "project_id" {
  description = "Google Cloud project of this environment."
  type        = string
}

variable "region" {
  description = "Region for Cloud Run, the jobs, the NEG and Cloud SQL."
  type        = string
}

variable "env" {
  description = "Environment: demo, uat or prod. Also selects the state prefix env/<env>/plant."
  type        = string

  validation {
    condition     = contains(["demo", "uat", "prod"], var.env)
    error_message = "env must be one of demo, uat, prod."
  }
}

variable "image" {
  description = "plant image (plant-server and plant-cli) as REGISTRY/PATH@sha256:DIGEST. Not set in the tfvars: the plant-deploy workflow builds the image and passes its digest. uat and prod accept nothing but a digest."
  type        = string

  validation {
    condition     = !contains(["uat", "prod"], var.env) || can(regex("^[a-z0-9.-]+(:[0-9]+)?/[a-z0-9._/-]+@sha256:[0-9a-f]{64}$", var.image))
    error_message = "In uat and prod the image must be pinned by digest: REGISTRY/PATH@sha256:<64 hex>, never a tag."
  }

  validation {
    condition     = !endswith(var.image, "@sha256:0000000000000000000000000000000000000000000000000000000000000000")
    error_message = "The all-zero digest is a placeholder, not an image."
  }
}

variable "public_host" {
  description = "The environment's public host behind the shared load balancer (plant.demo.example.com). Gives PLANT_PUBLIC_URL and the log origin of the checkpoints (<host>/audit)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$", var.public_host))
    error_message = "public_host must be a lowercase DNS name without scheme, port or path."
  }
}

variable "deployer_service_account" {
  description = "Email of the service account that runs Terraform (GitHub variable GCP_TERRAFORM_SERVICE_ACCOUNT); it gets roles/iam.serviceAccountUser on each runtime account this stack creates, and nothing wider."
  type        = string
}

variable "migrations_service_account" {
  description = "Email of the service account the plant-db-migrations workflow runs as (GCP_MIGRATIONS_SERVICE_ACCOUNT); it gets roles/run.invoker and roles/run.viewer on each plant-cli job."
  type        = string
}

variable "jwt_secret_version" {
  description = "Version of the generated JWT signing key (write-only, never in state); raise it to rotate the key."
  type        = number
  default     = 1
}

variable "card_key_version" {
  description = "Version of the generated agent-card signing key (write-only, never in state); raise it to rotate the key."
  type        = number
  default     = 1
}

variable "db_password_version" {
  description = "Version of the generated database password (write-only, never in state); raise it to rotate the password and DATABASE_URL together."
  type        = number
  default     = 1
}

variable "checkpoint_signing_key_secret" {
  description = "Secret Manager secret (short name) holding the checkpoint signing key, created before the first apply from `plant-cli keygen` (infra/README.md). Terraform never reads it."
  type        = string
}

variable "checkpoint_signing_key_version" {
  description = "Version of checkpoint_signing_key_secret the checkpoint job reads, pinned (a number, never \"latest\")."
  type        = string

  validation {
    condition     = can(regex("^[1-9][0-9]*$", var.checkpoint_signing_key_version))
    error_message = "checkpoint_signing_key_version must be a version number, not \"latest\"."
  }
}

variable "checkpoint_trusted_keys" {
  description = "Public keys (as `plant-cli keygen` prints them) whose checkpoints the verify job trusts: PLANT_TRUSTED_KEYS."
  type        = list(string)

  validation {
    condition     = length(var.checkpoint_trusted_keys) > 0
    error_message = "Name at least one trusted key: without one the verify job proves integrity but not who signed."
  }
}

variable "checkpoint_schedule" {
  description = "Cron (UTC) of the checkpoint job."
  type        = string
  default     = "0 * * * *"
}

variable "verify_schedule" {
  description = "Cron (UTC) of the verify job; offset from the checkpoint so that each run sees a fresh checkpoint."
  type        = string
  default     = "30 * * * *"
}

variable "network_id" {
  description = "VPC (projects/P/global/networks/N) with private services access already configured."
  type        = string
}

variable "vpc_connector_cidr" {
  description = "Unused /28 in the VPC for this environment's Serverless VPC Access connector."
  type        = string

  validation {
    condition     = can(cidrnetmask(var.vpc_connector_cidr)) && endswith(var.vpc_connector_cidr, "/28")
    error_message = "vpc_connector_cidr must be a /28 CIDR block."
  }
}

variable "db_tier" {
  description = "Cloud SQL machine tier."
  type        = string
}

variable "db_availability_type" {
  description = "ZONAL or REGIONAL."
  type        = string
}

variable "db_disk_size_gb" {
  description = "Initial database disk size in GB (PD-SSD, autoresized)."
  type        = number
}

variable "db_max_connections" {
  description = "PostgreSQL max_connections."
  type        = number
}

variable "db_backup_start_time" {
  description = "UTC HH:MM at which the daily backup starts."
  type        = string
}

variable "db_retained_backups" {
  description = "Number of daily backups kept."
  type        = number
}

variable "db_point_in_time_recovery" {
  description = "Enable point-in-time recovery (write-ahead log retention)."
  type        = bool
}

variable "db_deletion_protection" {
  description = "Protect the instance from deletion."
  type        = bool
}

variable "min_instances" {
  description = "Minimum Cloud Run instances."
  type        = number
  default     = 0
}

variable "max_instances" {
  description = "Maximum Cloud Run instances."
  type        = number
  default     = 3
}

variable "cors_origins" {
  description = "Comma-separated origins allowed by CORS (the CP and PP front ends of this environment)."
  type        = string
}

variable "embed_model_dir" {
  description = "PLANT_EMBED_MODEL_DIR inside the image; empty when the image carries no model (the server then uses the hashing embedder and says so)."
  type        = string
  default     = ""
}

variable "allow_public_invoker" {
  description = "Let the external load balancer forward anonymous requests (switches off Cloud Run's IAM invoker check; ingress still admits only the load balancer and internal traffic). Required for the Plant behind the shared HTTPS load balancer."
  type        = bool
  default     = false
}

variable "invoker_members" {
  description = "Extra principals allowed to call the service directly from inside the VPC."
  type        = list(string)
  default     = []
}

variable "labels" {
  description = "Extra labels on every labelled resource."
  type        = map(string)
  default     = {}
}
