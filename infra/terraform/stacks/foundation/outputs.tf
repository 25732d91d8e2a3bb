output "ip_address" {
  description = "The load balancer's address; every served host needs an A record pointing at it."
  value       = google_compute_global_address.lb.address
}

output "hosts" {
  description = "Hosts served, sorted; each has its own managed certificate and needs an A record to ip_address."
  value       = local.hosts
}

output "certificates" {
  description = "Certificate name per host; `gcloud compute ssl-certificates describe NAME --global` shows its status."
  value       = { for host, c in google_compute_managed_ssl_certificate.lb : host => c.name }
}

output "backend_services" {
  description = "Backend service names by component-environment."
  value       = { for k, b in google_compute_backend_service.component : k => b.name }
}
