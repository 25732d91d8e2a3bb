# Names a managed certificate after the set of domains it covers. The name changes exactly when the
# set changes (order and duplicates do not matter), which is what makes Terraform replace the
# certificate instead of trying to edit a managed certificate's domains in place (the API forbids it).
#
# The hash is pinned by scripts/static/cert_name_fixtures.json and checked by scripts/check-static.sh
# against an independent computation: sorted, de-duplicated domains joined by "," -> md5 -> first 8 hex.
# Keep the expression in `hash` exactly in that form.

terraform {
  required_version = ">= 1.9.0"
}

variable "prefix" {
  description = "Leading part of the certificate name, e.g. shared-lb-cert."
  type        = string

  validation {
    condition     = can(regex("^[a-z][-a-z0-9]{0,53}$", var.prefix))
    error_message = "prefix must be a lowercase RFC 1035 label of at most 54 characters."
  }
}

variable "domains" {
  description = "Domains the certificate covers (lowercase, no trailing dot)."
  type        = list(string)

  validation {
    condition     = length(var.domains) >= 1 && length(var.domains) <= 100
    error_message = "A managed certificate covers between 1 and 100 domains."
  }

  validation {
    condition     = alltrue([for d in var.domains : d == lower(d) && !endswith(d, ".")])
    error_message = "Domains must be lowercase and must not end with a dot, or the same set would hash differently."
  }
}

locals {
  hash = substr(md5(join(",", sort(distinct(var.domains)))), 0, 8)
}

output "hash" {
  description = "First 8 hex digits of md5 over the sorted, comma-joined domains."
  value       = local.hash
}

output "name" {
  description = "Certificate name: <prefix>-<hash>."
  value       = "${var.prefix}-${local.hash}"
}

output "domains" {
  description = "The domains, sorted and de-duplicated, as they are hashed."
  value       = sort(distinct(var.domains))
}
