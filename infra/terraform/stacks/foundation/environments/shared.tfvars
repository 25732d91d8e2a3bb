# The shared load balancer. State: gs://<state bucket>/foundation.
# Deploy order (infra/README.md): apply the plant stack of every enabled environment first (it does
# not need the foundation), then this. Each enabled component's state must exist and output
# backend_negs (region => serverless NEG id); stacks/plant does. CP and PP stay off until their stacks
# publish the same output: today they output {name, region} objects. scripts/check-static.sh fails if
# a component is enabled here whose stack does not meet that contract.

project_id   = "example-marketplace"
state_bucket = "example-marketplace-tfstate"
base_domain  = "example.com"
name_prefix  = "marketplace-lb"

enable_cp    = false
enable_pp    = false
enable_plant = true

enabled_environments = ["demo", "uat", "prod"]
