# The shared external HTTPS load balancer in front of CP, PP and the Plant, for every enabled
# environment: one anycast IP, a URL map routing by host, an HTTP->HTTPS redirect, and a Google-managed
# certificate covering every served host.
#
# Why a certificate or backend change never leaves the proxy without one
# ----------------------------------------------------------------------
# * Certificates are named <prefix>-<md5(sorted domains)[:8]> (modules/cert-name). Changing the hosts
#   changes the name, so Terraform plans a replacement rather than an impossible in-place edit.
# * create_before_destroy on the certificates makes that replacement: create the new certificate,
#   update the HTTPS proxy in place to list the new one, and only then delete the old one. Terraform
#   can delete the old certificate only after the proxy no longer references it, so the proxy never
#   points at a deleted certificate (the earlier outage) and the API never refuses the delete
#   because the certificate is in use.
# * A Google-managed certificate serves nothing until it is ACTIVE, which takes minutes to an hour
#   after it is attached. retained_certificate_domains keeps the previous certificate attached beside
#   the new one during that time; SNI picks whichever certificate covers the requested host and is
#   active. The old set is removed in a second apply, once the new certificate is ACTIVE.
# * Backend services carry a suffix derived from their replace-forcing settings and also use
#   create_before_destroy: a replacement creates the new backend, the URL map is updated in place to
#   route to it, and the old backend is deleted afterwards. The URL map, the proxies and the forwarding
#   rules are only ever updated in place by certificate or backend changes.

locals {
  redirect_host = var.default_redirect_host != "" ? var.default_redirect_host : var.base_domain

  components = [for c in ["cp", "pp", "plant"] : c if lookup({ cp = var.enable_cp, pp = var.enable_pp, plant = var.enable_plant }, c)]

  # "plant-demo" => { component = "plant", env = "demo", host = "plant.demo.example.com" }
  backends = {
    for pair in setproduct(local.components, sort(distinct(var.enabled_environments))) :
    "${pair[0]}-${pair[1]}" => {
      component = pair[0]
      env       = pair[1]
      host = (pair[1] == "prod"
        ? "${var.component_subdomains[pair[0]]}.${var.base_domain}"
      : "${var.component_subdomains[pair[0]]}.${pair[1]}.${var.base_domain}")
    }
  }

  hosts = sort([for b in values(local.backends) : b.host])

  # The current set first, then any retained earlier sets; keyed by the joined set so that a retained
  # set keeps the very same resource address (and certificate) it had when it was current.
  # Grouping (the "..." below) tolerates a retained set equal to the current one.
  certificate_sets = {
    for key, sets in {
      for s in concat([local.hosts], var.retained_certificate_domains) :
      join(",", sort(distinct(s))) => sort(distinct(s))... if length(s) > 0
    } : key => sets[0]
  }

  # Settings whose change forces a new backend service; they name it so that a replacement can be
  # created before the old one is destroyed without a name clash.
  backend_shape = { scheme = "EXTERNAL_MANAGED", protocol = "HTTPS" }
  backend_tag   = substr(md5(jsonencode(local.backend_shape)), 0, 6)
}

# Remote state of each enabled component and environment; the prefix is the same one the component's
# own workflows initialise with (env/<env>/plant for the Plant).
data "terraform_remote_state" "component" {
  for_each = local.backends

  backend = "gcs"
  config = {
    bucket = var.state_bucket
    prefix = "env/${each.value.env}/${each.value.component}"
  }
}

resource "google_compute_global_address" "lb" {
  name = "${var.name_prefix}-ip"
}

resource "google_compute_ssl_policy" "modern" {
  name            = "${var.name_prefix}-tls"
  profile         = "MODERN"
  min_tls_version = "TLS_1_2"
}

module "certificate_name" {
  source   = "../../modules/cert-name"
  for_each = local.certificate_sets

  prefix  = "${var.name_prefix}-cert"
  domains = each.value
}

resource "google_compute_managed_ssl_certificate" "lb" {
  for_each = module.certificate_name

  name = each.value.name

  managed {
    domains = each.value.domains
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "google_compute_backend_service" "component" {
  for_each = local.backends

  name                  = "${var.name_prefix}-${each.key}-${local.backend_tag}"
  load_balancing_scheme = local.backend_shape.scheme
  protocol              = local.backend_shape.protocol
  timeout_sec           = var.backend_timeout_seconds

  dynamic "backend" {
    for_each = data.terraform_remote_state.component[each.key].outputs.backend_negs

    content {
      group = backend.value
    }
  }

  log_config {
    enable      = true
    sample_rate = 1.0
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "google_compute_url_map" "https" {
  name = "${var.name_prefix}-https"

  # Hosts that are not served here are sent to the marketplace's main site rather than to a backend
  # that would answer for a host it does not own.
  default_url_redirect {
    host_redirect          = local.redirect_host
    https_redirect         = true
    redirect_response_code = "FOUND"
    strip_query            = false
  }

  dynamic "host_rule" {
    for_each = local.backends

    content {
      hosts        = [host_rule.value.host]
      path_matcher = host_rule.key
    }
  }

  dynamic "path_matcher" {
    for_each = local.backends

    content {
      name            = path_matcher.key
      default_service = google_compute_backend_service.component[path_matcher.key].id
    }
  }

  lifecycle {
    precondition {
      condition     = var.enable_cp || var.enable_pp || var.enable_plant
      error_message = "Enable at least one component (enable_cp, enable_pp, enable_plant); a load balancer with no backend serves nothing."
    }
  }
}

resource "google_compute_target_https_proxy" "https" {
  name             = "${var.name_prefix}-https"
  url_map          = google_compute_url_map.https.id
  ssl_policy       = google_compute_ssl_policy.modern.id
  ssl_certificates = [for k in sort(keys(google_compute_managed_ssl_certificate.lb)) : google_compute_managed_ssl_certificate.lb[k].id]
}

resource "google_compute_global_forwarding_rule" "https" {
  name                  = "${var.name_prefix}-https"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  ip_address            = google_compute_global_address.lb.id
  ip_protocol           = "TCP"
  port_range            = "443"
  target                = google_compute_target_https_proxy.https.id
}

resource "google_compute_url_map" "http_redirect" {
  name = "${var.name_prefix}-http-redirect"

  default_url_redirect {
    https_redirect         = true
    redirect_response_code = "MOVED_PERMANENTLY_DEFAULT"
    strip_query            = false
  }
}

resource "google_compute_target_http_proxy" "http_redirect" {
  name    = "${var.name_prefix}-http-redirect"
  url_map = google_compute_url_map.http_redirect.id
}

resource "google_compute_global_forwarding_rule" "http_redirect" {
  name                  = "${var.name_prefix}-http-redirect"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  ip_address            = google_compute_global_address.lb.id
  ip_protocol           = "TCP"
  port_range            = "80"
  target                = google_compute_target_http_proxy.http_redirect.id
}
