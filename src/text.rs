//! Wording shared by every report: one way to count things.

/// `1 snapshot`, `2 snapshots`.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
