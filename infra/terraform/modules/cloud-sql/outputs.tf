output "instance_name" {
  description = "Cloud SQL instance name."
  value       = google_sql_database_instance.this.name
}

output "connection_name" {
  description = "PROJECT:REGION:INSTANCE, the name Cloud Run's Cloud SQL connection and the unix socket use."
  value       = google_sql_database_instance.this.connection_name
}

output "private_ip_address" {
  description = "The instance's private IP in the VPC."
  value       = google_sql_database_instance.this.private_ip_address
}

output "database_name" {
  description = "Application database name."
  value       = google_sql_database.plant.name
}

output "user_name" {
  description = "Application database user."
  value       = google_sql_user.plant.name
}

output "database_url_secret_id" {
  description = "Secret Manager secret id (projects/.../secrets/<env>-plant-database-url) holding DATABASE_URL."
  value       = google_secret_manager_secret.database_url.id
}

output "database_url_secret_name" {
  description = "Short name of the DATABASE_URL secret."
  value       = google_secret_manager_secret.database_url.secret_id
}
