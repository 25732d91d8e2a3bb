# The shared external HTTPS load balancer in front of CP, PP and the Plant, for every enabled
# environment: one anycast IP, a URL map routing by host, an HTTP->HTTPS redirect, and one
# Google-managed certificate per served host.
#
# Certificates: one per host, not one SAN certificate for all hosts
# -----------------------------------------------------------------
# A managed certificate becomes ACTIVE only when every domain it covers resolves to the load
# balancer. With one certificate for all hosts, a single host without DNS keeps a new certificate
# PROVISIONING for every host, and a host change replaces the certificate every host is served with
# (the outage the earlier deployment suffered). With one certificate per host, adding a host adds a
# certificate and touches no other; a host without DNS leaves only itself unserved; removing a host
# removes only its certificate. A target HTTPS proxy takes at most 15 certificates, which covers 3
# components x 3 environments; past that, Certificate Manager (a certificate map with DNS
# authorization) is the next step, at the price of managing DNS authorization records.
#
# Why a certificate or backend change never leaves the proxy without one
# ----------------------------------------------------------------------
# * Certificates are named <prefix>-<md5(host)[:8]> (modules/cert-name) and keyed by host, so a host
#   keeps the very same certificate for as long as it is served.
# * create_before_destroy on the certificates and backend services: a replacement is created, the
#   proxy or URL map is updated in place to use it, and the old one is deleted afterwards.
# * Backend services carry a suffix derived from their replace-forcing settings, so a replacement can
#   be created beside the old one without a name clash.
#
# The component contract
# ----------------------
# Every enabled component must already have applied its stack for every enabled environment, and
# its state (prefix env/<env>/<component>) must output `backend_negs`: a map region => serverless NEG
# id (projects/P/regions/R/networkEndpointGroups/N). stacks/plant does; a stack that outputs anything
# else (the older CP/PP stacks output {name, region} objects) fails the plan with the precondition on
# google_compute_backend_service.component, and scripts/check-static.sh refuses a shipped tfvars that
# enables a component whose stack in this repository does not meet it.

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

  # Each backend's NEGs as its state publishes them; anything but a map of strings becomes {} and is
  # reported by the contract precondition rather than by an obscure type error.
  component_negs = {
    for key, _ in local.backends :
    key => try(tomap(data.terraform_remote_state.component[key].outputs.backend_negs), {})
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
  for_each = toset(local.hosts)

  prefix  = "${var.name_prefix}-cert"
  domains = [each.value]
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
  # No timeout_sec: the API refuses it on a backend service whose backends are serverless NEGs;
  # the Cloud Run service's own request timeout governs.

  dynamic "backend" {
    for_each = local.component_negs[each.key]

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

    precondition {
      condition     = length(local.component_negs[each.key]) > 0 && alltrue([for region, id in local.component_negs[each.key] : can(regex("^projects/[^/]+/regions/${region}/networkEndpointGroups/[^/]+$", id))])
      error_message = "State env/${each.value.env}/${each.value.component} does not meet the component contract: it must exist and output backend_negs, a map region => serverless NEG id. Apply that stack first, or leave the component disabled."
    }
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

  lifecycle {
    precondition {
      condition     = length(local.hosts) <= 15
      error_message = "A target HTTPS proxy takes at most 15 certificates (one per host here); move to Certificate Manager before serving more hosts."
    }
  }
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
