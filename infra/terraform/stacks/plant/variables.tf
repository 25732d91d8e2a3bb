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
  description = "plant image (plant-server and plant-cli), pinned by digest in uat and prod."
  type        = string
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
