output "ip_address" {
  description = "The load balancer's address; every served host needs an A record pointing at it."
  value       = google_compute_global_address.lb.address
}

output "hosts" {
  description = "Hosts served, sorted (the current certificate's domains)."
  value       = local.hosts
}

output "certificate_domains" {
  description = "Domains of the current certificate; copy into retained_certificate_domains before changing the hosts."
  value       = try(module.certificate_name[join(",", local.hosts)].domains, [])
}

output "certificates" {
  description = "Certificate names attached to the proxy, keyed by their domain set."
  value       = { for k, c in google_compute_managed_ssl_certificate.lb : k => c.name }
}

output "backend_services" {
  description = "Backend service names by component-environment."
  value       = { for k, b in google_compute_backend_service.component : k => b.name }
}
