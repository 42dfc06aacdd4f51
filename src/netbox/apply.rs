//! Batches for writing a plan to NetBox in bulk: one POST per batch of new
//! probes, one PATCH per batch of time updates. Each bulk request is
//! all-or-nothing on NetBox's side, so a batch is either written or not;
//! whether it was is what a re-plan finds out after an unknown outcome.

use serde_json::Value as Json;

pub const PROBES: &str = "api/plugins/inventory-monitor/probes/";
/// At most this many objects per request.
const BATCH: usize = 100;
/// Request bodies stay below NetBox's 2.5 MiB DATA_UPLOAD_MAX_MEMORY_SIZE.
const MAX_BYTES: usize = 2 * 1024 * 1024;

/// Splits bodies into batches of at most 100 objects and 2 MiB.
pub fn batches(bodies: &[Json]) -> Vec<Vec<Json>> {
    let mut out: Vec<Vec<Json>> = Vec::new();
    let mut size = 0;
    for body in bodies {
        let len = serde_json::to_vec(body).map_or(0, |b| b.len()) + 1;
        match out.last_mut() {
            Some(batch) if batch.len() < BATCH && size + len < MAX_BYTES => {
                batch.push(body.clone());
                size += len;
            }
            _ => {
                out.push(vec![body.clone()]);
                size = len;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn batches_respect_count_and_size() {
        let small: Vec<Json> = (0..250).map(|i| json!({"id": i})).collect();
        let b = batches(&small);
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), [100, 100, 50]);
        let big: Vec<Json> = (0..5)
            .map(|_| json!({"x": "y".repeat(700 * 1024)}))
            .collect();
        let b = batches(&big);
        assert!(
            b.iter()
                .all(|batch| serde_json::to_vec(batch).unwrap().len() < MAX_BYTES + 1024),
            "{}",
            b.len()
        );
        assert_eq!(b.len(), 3);
    }
}
