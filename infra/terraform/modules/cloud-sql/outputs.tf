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

output "database_url_secret_version" {
  description = "Version number of the DATABASE_URL secret written by this apply. Consumers pin it (not \"latest\"), which also makes them wait for it: the version exists only after the database and its user."
  value       = google_secret_manager_secret_version.database_url.version
}

output "client_condition" {
  description = "IAM condition that limits roles/cloudsql.client to this instance. All environments share one project: an unconditioned grant would reach every environment's database."
  value = {
    title       = "only-${google_sql_database_instance.this.name}"
    description = "Cloud SQL client on the ${google_sql_database_instance.this.name} instance only."
    expression  = "resource.type == \"sqladmin.googleapis.com/Instance\" && resource.name == \"projects/${var.project_id}/instances/${google_sql_database_instance.this.name}\""
  }
}
