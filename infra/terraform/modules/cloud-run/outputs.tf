output "service_name" {
  description = "Cloud Run service name."
  value       = google_cloud_run_v2_service.this.name
}

output "service_id" {
  description = "Cloud Run service id."
  value       = google_cloud_run_v2_service.this.id
}

output "service_uri" {
  description = "run.app URL (reachable only from internal traffic)."
  value       = google_cloud_run_v2_service.this.uri
}

output "service_account_email" {
  description = "Identity the service runs as."
  value       = google_service_account.service.email
}
