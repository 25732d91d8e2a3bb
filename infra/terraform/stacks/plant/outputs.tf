output "backend_negs" {
  description = "The foundation's contract: a map region => serverless NEG id (projects/P/regions/R/networkEndpointGroups/N), read through remote state (prefix env/<env>/plant)."
  value       = { (var.region) = google_compute_region_network_endpoint_group.plant.id }
}

output "service_name" {
  description = "Cloud Run service name."
  value       = module.service.service_name
}

output "service_uri" {
  description = "run.app URL (internal only)."
  value       = module.service.service_uri
}

output "service_account_email" {
  description = "Identity of the Cloud Run service."
  value       = module.service.service_account_email
}

output "database_connection_name" {
  description = "Cloud SQL connection name."
  value       = module.database.connection_name
}

output "database_instance_name" {
  description = "Cloud SQL instance name (for backups and restores)."
  value       = module.database.instance_name
}

output "database_url_secret" {
  description = "Secret Manager secret holding DATABASE_URL."
  value       = module.database.database_url_secret_name
}

output "db_jobs" {
  description = "Cloud Run job names by plant-cli subcommand (migrate, seed, checkpoint, verify)."
  value       = { for k, j in google_cloud_run_v2_job.db : k => j.name }
}

output "checkpoint_bucket" {
  description = "Bucket the checkpoints are published to (checkpoints.jsonl, every generation kept)."
  value       = google_storage_bucket.checkpoints.name
}
