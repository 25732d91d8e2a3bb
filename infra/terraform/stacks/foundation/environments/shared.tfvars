# The shared load balancer. State: gs://<state bucket>/foundation.
# Deploy order (infra/README.md): apply with enable_plant = false, apply the plant stack of every
# enabled environment and run its migration job, then set enable_plant = true here.

project_id   = "example-marketplace"
state_bucket = "example-marketplace-tfstate"
base_domain  = "example.com"
name_prefix  = "marketplace-lb"

enable_cp    = true
enable_pp    = true
enable_plant = true

enabled_environments = ["demo", "uat", "prod"]

# Empty except during a certificate change (see infra/README.md, "Changing the certificate").
retained_certificate_domains = []
