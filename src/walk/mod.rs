//! What a device answered: every fetched OID with its value, in SNMP order.
//!
//! Vendor parsers read only this, so they can be tested from recordings.

pub mod oid;
pub mod snmprec;
pub mod value;

use std::collections::BTreeMap;

pub use oid::Oid;
pub use value::Value;

/// Rows sorted by OID. Walkers deliver rows in order, so inserting is an
/// append in the common case; lookups are binary searches.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Walk {
    rows: Vec<(Oid, Value)>,
}

/// One table row: the columns present, in column order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Row<'a> {
    cells: Vec<(u32, &'a Value)>,
}

impl<'a> Row<'a> {
    pub fn get(&self, column: u32) -> Option<&'a Value> {
        self.cells
            .iter()
            .find(|(c, _)| *c == column)
            .map(|(_, v)| *v)
    }

    pub fn has(&self, column: u32) -> bool {
        self.get(column).is_some()
    }
}

impl Walk {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, oid: Oid, value: Value) {
        match self.rows.last() {
            Some((last, _)) if *last < oid => self.rows.push((oid, value)),
            None => self.rows.push((oid, value)),
            _ => match self.rows.binary_search_by(|(o, _)| o.cmp(&oid)) {
                Ok(i) => self.rows[i].1 = value,
                Err(i) => self.rows.insert(i, (oid, value)),
            },
        }
    }

    pub fn get(&self, oid: &Oid) -> Option<&Value> {
        self.rows
            .binary_search_by(|(o, _)| o.cmp(oid))
            .ok()
            .map(|i| &self.rows[i].1)
    }

    /// The value at exactly `arcs`.
    pub fn get_arcs(&self, arcs: &[u32]) -> Option<&Value> {
        self.rows
            .binary_search_by(|(o, _)| o.arcs().cmp(arcs))
            .ok()
            .map(|i| &self.rows[i].1)
    }

    /// The first row after `arcs` in SNMP order (what GETNEXT answers).
    pub fn after(&self, arcs: &[u32]) -> Option<(&Oid, &Value)> {
        self.row(self.position_after(arcs))
    }

    /// Position of the first row after `arcs`; rows from there on are the
    /// rest of a walk, in order.
    pub fn position_after(&self, arcs: &[u32]) -> usize {
        self.rows.partition_point(|(o, _)| o.arcs() <= arcs)
    }

    pub fn row(&self, position: usize) -> Option<(&Oid, &Value)> {
        self.rows.get(position).map(|(o, v)| (o, v))
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Oid, &Value)> {
        self.rows.iter().map(|(o, v)| (o, v))
    }

    /// Rows under `prefix`, with the arcs after it.
    pub fn subtree(&self, prefix: &Oid) -> impl Iterator<Item = (&[u32], &Value)> {
        let start = self.rows.partition_point(|(o, _)| o < prefix);
        let prefix = prefix.clone();
        self.rows[start..]
            .iter()
            .map_while(move |(oid, v)| oid.suffix(&prefix).map(|s| (s, v)))
            .filter(|(s, _)| !s.is_empty())
    }

    /// A conceptual table under its entry OID (`…Table.1`): instance index →
    /// columns. Indexes are kept whole (multi-arc indexes stay distinct).
    pub fn table(&self, entry: &Oid) -> BTreeMap<&[u32], Row<'_>> {
        let mut rows: BTreeMap<&[u32], Row<'_>> = BTreeMap::new();
        for (suffix, value) in self.subtree(entry) {
            if let [column, index @ ..] = suffix
                && !index.is_empty()
            {
                rows.entry(index).or_default().cells.push((*column, value));
            }
        }
        rows
    }
}

impl FromIterator<(Oid, Value)> for Walk {
    fn from_iter<T: IntoIterator<Item = (Oid, Value)>>(iter: T) -> Self {
        let mut walk = Walk::new();
        for (o, v) in iter {
            walk.insert(o, v);
        }
        walk
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

#[cfg(test)]
mod tests {
    use super::*;

    fn oid(s: &str) -> Oid {
        s.parse().unwrap()
    }

    #[test]
    fn out_of_order_inserts_stay_sorted_and_replace() {
        let mut w = Walk::new();
        for (o, v) in [
            ("1.3.6.2", 2),
            ("1.3.6.10", 10),
            ("1.3.6.1", 1),
            ("1.3.6.2", 20),
        ] {
            w.insert(oid(o), Value::Integer(v));
        }
        let order: Vec<String> = w.iter().map(|(o, _)| o.to_string()).collect();
        assert_eq!(order, ["1.3.6.1", "1.3.6.2", "1.3.6.10"]);
        assert_eq!(w.get(&oid("1.3.6.2")), Some(&Value::Integer(20)));
    }

    #[test]
    fn tables_group_columns_by_whole_index() {
        let w: Walk = [
            ("1.3.9.1.2.7.1", 1),
            ("1.3.9.1.2.7.2", 2),
            ("1.3.9.1.3.7.1", 3),
            ("1.3.9.2.1", 9),
        ]
        .into_iter()
        .map(|(o, v)| (oid(o), Value::Integer(v)))
        .collect();
        let t = w.table(&oid("1.3.9.1"));
        assert_eq!(t.len(), 2);
        assert_eq!(t[&[7u32, 1][..]].get(3), Some(&Value::Integer(3)));
        assert!(!t[&[7u32, 2][..]].has(3));
    }
}
