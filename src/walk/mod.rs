//! What a device answered: every fetched OID with its value, in SNMP order.
//!
//! Vendor parsers read only this, so they can be tested from recordings.

pub mod snmprec;

use std::collections::BTreeMap;

use crate::snmp::{Oid, Value};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Walk {
    rows: BTreeMap<Oid, Value>,
}

/// One table row: column number → value.
pub type Row<'a> = BTreeMap<u32, &'a Value>;

impl Walk {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, oid: Oid, value: Value) {
        self.rows.insert(oid, value);
    }

    pub fn get(&self, oid: &Oid) -> Option<&Value> {
        self.rows.get(oid)
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Oid, &Value)> {
        self.rows.iter()
    }

    /// Rows under `prefix`, with the arcs after it.
    pub fn subtree(&self, prefix: &Oid) -> impl Iterator<Item = (&[u32], &Value)> {
        let prefix = prefix.clone();
        self.rows
            .range(prefix.clone()..)
            .map_while(move |(oid, v)| oid.suffix(&prefix).map(|s| (s, v)))
            .filter(|(s, _)| !s.is_empty())
    }

    /// A conceptual table under its entry OID (`…Table.1`): instance index →
    /// columns. Indexes are kept whole (multi-arc indexes stay distinct).
    pub fn table(&self, entry: &Oid) -> BTreeMap<Vec<u32>, Row<'_>> {
        let mut rows: BTreeMap<Vec<u32>, Row<'_>> = BTreeMap::new();
        for (suffix, value) in self.subtree(entry) {
            if let [column, index @ ..] = suffix
                && !index.is_empty()
            {
                rows.entry(index.to_vec())
                    .or_default()
                    .insert(*column, value);
            }
        }
        rows
    }

    pub fn extend(&mut self, other: Walk) {
        self.rows.extend(other.rows);
    }
}

impl FromIterator<(Oid, Value)> for Walk {
    fn from_iter<T: IntoIterator<Item = (Oid, Value)>>(iter: T) -> Self {
        Self {
            rows: iter.into_iter().collect(),
        }
    }
}

/// Dotted form of a table index, as used in item identities.
pub fn index_text(index: &[u32]) -> String {
    index
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(".")
}
