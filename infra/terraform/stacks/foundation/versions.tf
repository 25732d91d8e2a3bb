terraform {
  required_version = ">= 1.9.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.50.0, < 7.0.0"
    }
  }

  # Partial configuration: bucket at init time, prefix always "foundation".
  backend "gcs" {}
}

provider "google" {
  project = var.project_id
}
