variable "project_id" {
  description = "Google Cloud project of the service."
  type        = string
}

variable "region" {
  description = "Region of the service (the same as the Cloud SQL instance)."
  type        = string
}

variable "name" {
  description = "Service name, e.g. plant-demo."
  type        = string
}

variable "image" {
  description = "Container image, pinned by digest (REGION-docker.pkg.dev/PROJECT/REPO/plant@sha256:...)."
  type        = string
}

variable "port" {
  description = "Container port; Cloud Run passes it to the server as $PORT."
  type        = number
  default     = 8000
}

variable "cpu" {
  description = "CPU limit per instance."
  type        = string
  default     = "2"
}

variable "memory" {
  description = "Memory limit per instance."
  type        = string
  default     = "1Gi"
}

variable "min_instances" {
  description = "Minimum warm instances (0 lets the service scale to zero)."
  type        = number
  default     = 0
}

variable "max_instances" {
  description = "Maximum instances; bounds the database connections the service can open."
  type        = number
  default     = 3

  validation {
    condition     = var.max_instances >= 1
    error_message = "max_instances must be at least 1."
  }
}

variable "request_timeout_seconds" {
  description = "Per-request timeout enforced by Cloud Run."
  type        = number
  default     = 60
}

variable "concurrency" {
  description = "Maximum concurrent requests per instance."
  type        = number
  default     = 80
}

variable "cloud_sql_connection_name" {
  description = "PROJECT:REGION:INSTANCE mounted at /cloudsql."
  type        = string
}

variable "cloud_sql_client_condition" {
  description = "IAM condition limiting roles/cloudsql.client to the environment's instance (the cloud-sql module's client_condition output)."
  type = object({
    title       = string
    description = string
    expression  = string
  })
}

variable "vpc_connector_id" {
  description = "Serverless VPC Access connector used for egress to private ranges."
  type        = string
}

variable "plain_env" {
  description = "Non-secret environment variables (CORS_ORIGINS, PLANT_EMBED_MODEL_DIR, ...). PORT is set by Cloud Run itself and must not be listed."
  type        = map(string)
  default     = {}

  validation {
    condition     = !contains(keys(var.plain_env), "PORT")
    error_message = "PORT is reserved: Cloud Run sets it from the container port."
  }
}

variable "secret_env" {
  description = "Environment variables read from Secret Manager: name => { secret = secret id, version = version number }. The version is pinned (pass the version resource's `version` attribute, which also orders the service after it); the service account is granted accessor on exactly these secrets."
  type = map(object({
    secret  = string
    version = string
  }))
  default = {}

  validation {
    condition     = alltrue([for v in values(var.secret_env) : v.version != "latest"])
    error_message = "Pin each secret to a version: \"latest\" lets a revision start before the version exists and hides which value it runs with."
  }
}

variable "metrics_port" {
  description = "PLANT_METRICS_PORT: the server's Prometheus listener, scraped by the Managed Service for Prometheus sidecar (which reads 127.0.0.1:8080/metrics by default). null: no listener, no sidecar."
  type        = number
  default     = 8080

  validation {
    condition     = var.metrics_port == null || var.metrics_port != var.port
    error_message = "metrics_port must differ from port: metrics are never served on the public port."
  }
}

variable "metrics_sidecar_image" {
  description = "Managed Service for Prometheus collector for Cloud Run."
  type        = string
  default     = "us-docker.pkg.dev/cloud-ops-agents-artifacts/cloud-run-gmp-sidecar/cloud-run-gmp-sidecar:1.2.0"
}

variable "deployer_members" {
  description = "Principals that deploy revisions running as this service's account (e.g. serviceAccount:terraform@...); each gets roles/iam.serviceAccountUser on that account only."
  type        = list(string)
  default     = []
}

variable "invoker_members" {
  description = "Principals allowed to invoke the service directly (e.g. serviceAccount:cp@... for service-to-service calls)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for m in var.invoker_members : !contains(["allUsers", "allAuthenticatedUsers"], m)])
    error_message = "Public principals are not accepted here; use allow_public_invoker, which must be set deliberately."
  }
}

variable "allow_public_invoker" {
  description = "Turn off Cloud Run's IAM invoker check so that anonymous requests forwarded by the external load balancer are served. Ingress stays limited to internal traffic and the load balancer, so the run.app URL is still unreachable from the internet; the application authenticates with its own JWTs. Never grants allUsers."
  type        = bool
  default     = false
}

variable "deletion_protection" {
  description = "Refuse to delete the service through Terraform."
  type        = bool
  default     = false
}

variable "labels" {
  description = "Labels applied to the service."
  type        = map(string)
  default     = {}
}
