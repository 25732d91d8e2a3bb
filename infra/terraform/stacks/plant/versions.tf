terraform {
  required_version = ">= 1.11.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.50.0, < 7.0.0"
    }
    random = {
      source  = "hashicorp/random"
      version = ">= 3.7.0, < 4.0.0"
    }
  }

  # Partial configuration: the bucket and the prefix are given at init time, and the prefix is always
  # env/<env>/plant (see infra/README.md). The workflows and the foundation's remote state use exactly
  # that string; scripts/check-static.sh fails if any of them differs.
  backend "gcs" {}
}

provider "google" {
  project = var.project_id
  region  = var.region
}
