# Where checkpoints are published: a bucket outside the database, so that a rewritten or truncated
# audit chain (which a database administrator could also make consistent with the checkpoints
# stored beside it) is still caught against the copies here.
#
# Retention: the checkpoint job appends to one file (`plant-cli checkpoint --out`), and the verify
# job reads that one file (`--checkpoint-file`). Every append writes a new generation of the object;
# object versioning keeps each earlier generation as a noncurrent version, no lifecycle rule ever
# deletes one, and soft delete keeps any deleted generation restorable for 90 days (and not purgeable
# before then without changing the bucket, which only the deployer can). A bucket retention policy
# (Bucket Lock) forbids replacing an object younger than the retention period, and a bucket cannot
# have both a retention policy and object versioning, so it would fit only one object per
# checkpoint, which `verify` cannot read yet; see infra/README.md.

resource "google_storage_bucket" "checkpoints" {
  # checkov:skip=CKV_GCP_62:Access logs of a bucket holding only public checkpoints would log the job's own writes; Cloud Audit Logs record every data write already.
  name                        = "${var.project_id}-${var.env}-plant-checkpoints"
  location                    = var.region
  labels                      = local.labels
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  versioning {
    enabled = true
  }

  soft_delete_policy {
    retention_duration_seconds = 7776000
  }
}

# The checkpoint job creates and replaces the file (objectUser: replacing an object needs delete);
# everyone else only reads it.
resource "google_storage_bucket_iam_member" "checkpoints" {
  for_each = {
    writer = { role = "roles/storage.objectUser", member = "serviceAccount:${google_service_account.checkpoint.email}" }
    reader = { role = "roles/storage.objectViewer", member = "serviceAccount:${google_service_account.jobs.email}" }
  }

  bucket = google_storage_bucket.checkpoints.name
  role   = each.value.role
  member = each.value.member
}
