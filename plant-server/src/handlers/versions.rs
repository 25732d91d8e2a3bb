//! Addressable versions of every kind: `GET …/versions` lists every version with its audit
//! entry's seq, hash and per-entity lineage hash; `GET …/versions/{n}` returns the record
//! exactly as it was at version n, rebuilt from the entry that wrote it. The five catalog kinds
//! route here directly; trials, jobs and precedent seeds through their own handlers, which
//! first check that the caller may read the record.

use http::StatusCode;
use plant_core::catalog::VersionedRecord;
use plant_core::model::Kind;
use serde::Serialize;
use uuid::Uuid;

use crate::problem::{ApiError, HandlerResult};
use crate::response::json_response;
use crate::state::AppState;

/// `GET …/{id}/versions`: `[{version, seq, hash, prev_hash, lineage_hash, hash_verified,
/// action, actor, at}]`, oldest first; 404 for an unknown id. Whoever calls has been allowed to
/// read record `id` of `kind`.
pub async fn list(state: &AppState, kind: Kind, id: Uuid) -> HandlerResult {
    let versions = state.catalog().versions(kind, id).await?;
    Ok(json_response(StatusCode::OK, &versions))
}

/// `GET …/{id}/versions/{n}`: the version's summary with the entity as it was under `entity`,
/// and the path of its inclusion proof; 404 for an unknown id or version, 422 when `n` is not a
/// positive integer. Whoever calls has been allowed to read record `id` of `kind`.
pub async fn get(state: &AppState, kind: Kind, id: Uuid, n: &str) -> HandlerResult {
    let n = parse_version(n)?;
    let version = state.catalog().version(kind, id, n).await?;
    let store = state.catalog().store();
    // Prove against the newest signed checkpoint when it covers this entry (that root can be
    // checked against a signature); otherwise against the log as it stands.
    let signed = store
        .latest_tree_checkpoint()
        .await
        .map_err(plant_core::Error::from)?
        .map(|c| c.tree_size)
        .filter(|&size| size >= version.info.seq);
    let size = match signed {
        Some(size) => size,
        None => store.head().await.map_err(plant_core::Error::from)?.seq,
    };
    let body = WithProof {
        inclusion_proof: format!(
            "/api/v1/audit/proof/inclusion?seq={}&size={size}",
            version.info.seq
        ),
        version,
    };
    Ok(json_response(StatusCode::OK, &body))
}

/// A version with the path of its entry's inclusion proof in the transparency log.
#[derive(Serialize)]
struct WithProof {
    #[serde(flatten)]
    version: VersionedRecord,
    /// `GET` it for the RFC 9162 audit path of this version's entry.
    inclusion_proof: String,
}

/// A version number: a positive integer in plain decimal (422 otherwise).
fn parse_version(text: &str) -> Result<u64, ApiError> {
    let bad = || ApiError::invalid_field("n", "must be a positive integer (a version number)");
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match text.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_version;

    #[test]
    fn only_positive_decimal_integers_are_versions() {
        assert_eq!(parse_version("1").ok(), Some(1));
        assert_eq!(parse_version("0042").ok(), Some(42));
        for bad in [
            "0",
            "-1",
            "+1",
            "1.0",
            "one",
            "",
            " 1",
            "99999999999999999999999",
        ] {
            assert!(parse_version(bad).is_err(), "{bad:?}");
        }
    }
}
