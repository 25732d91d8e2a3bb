variable "project_id" {
  description = "Project that owns the shared load balancer (and the Cloud Run services behind it)."
  type        = string
}

variable "state_bucket" {
  description = "GCS bucket holding every stack's state; component stacks are read from env/<env>/<component>."
  type        = string
}

variable "base_domain" {
  description = "Marketplace domain. prod hosts are <component>.<base_domain>, other environments <component>.<env>.<base_domain>."
  type        = string
}

variable "name_prefix" {
  description = "Prefix of every load balancer resource name."
  type        = string
  default     = "marketplace-lb"
}

variable "enable_cp" {
  description = "Route the customer portal's hosts to its backends (read from env/<env>/cp, which must output backend_negs: region => serverless NEG id)."
  type        = bool
  default     = false
}

variable "enable_pp" {
  description = "Route the platform portal's hosts to its backends (read from env/<env>/pp, which must output backend_negs: region => serverless NEG id)."
  type        = bool
  default     = false
}

variable "enable_plant" {
  description = "Route the Plant's hosts to its backends (read from env/<env>/plant). Turn on only after the plant stack of every enabled environment is applied."
  type        = bool
  default     = false
}

variable "enabled_environments" {
  description = "Environments served by this load balancer."
  type        = list(string)

  validation {
    condition     = length(var.enabled_environments) > 0 && alltrue([for e in var.enabled_environments : contains(["demo", "uat", "prod"], e)])
    error_message = "enabled_environments must list at least one of demo, uat, prod."
  }
}

variable "component_subdomains" {
  description = "First DNS label of each component's hosts."
  type        = map(string)
  default = {
    cp    = "cp"
    pp    = "pp"
    plant = "plant"
  }
}


variable "default_redirect_host" {
  description = "Where requests for unknown hosts are redirected (HTTPS, path kept). Empty means base_domain."
  type        = string
  default     = ""
}
