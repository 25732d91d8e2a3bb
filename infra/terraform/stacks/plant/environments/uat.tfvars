# Plant stack, uat. State: gs://<state bucket>/env/uat/plant (the only prefix for this stack).
# Every variable without a default is set here; scripts/check-static.sh fails if one is missing.

project_id = "example-marketplace"
region     = "europe-west1"
env        = "uat"
# image is not set here: the plant-deploy workflow builds it and passes REGISTRY/PATH@sha256:DIGEST.
public_host = "plant.uat.example.com"

deployer_service_account   = "terraform@example-marketplace.iam.gserviceaccount.com"
migrations_service_account = "plant-migrations@example-marketplace.iam.gserviceaccount.com"

network_id         = "projects/example-marketplace/global/networks/marketplace"
vpc_connector_cidr = "10.8.0.16/28"

db_tier                   = "db-custom-2-7680"
db_availability_type      = "ZONAL"
db_disk_size_gb           = 20
db_max_connections        = 100
db_backup_start_time      = "02:00"
db_retained_backups       = 7
db_point_in_time_recovery = true
db_deletion_protection    = true

min_instances = 0
max_instances = 3

cors_origins    = "https://cp.uat.example.com,https://pp.uat.example.com"
embed_model_dir = "/opt/plant/model"

# The shared HTTPS load balancer forwards anonymous requests; ingress stays internal + load balancer
# and the service authenticates callers with its own JWTs (see modules/cloud-run allow_public_invoker).
allow_public_invoker = true
invoker_members      = []

# The checkpoint signing key lives in Secret Manager, created before the first apply (infra/README.md,
# "Checkpoint signing key"); replace the trusted key with the public key `plant-cli keygen` printed.
checkpoint_signing_key_secret  = "uat-plant-checkpoint-key"
checkpoint_signing_key_version = "1"
checkpoint_trusted_keys        = ["0000000000000000000000000000000000000000000000000000000000000000"]

labels = {
  cost-center = "marketplace"
}
