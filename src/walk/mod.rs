//! What a device answered: every fetched OID with its value, in SNMP order.
//!
//! Vendor parsers read only this, so they can be tested from recordings.

pub mod oid;
pub mod snmprec;
pub mod value;

pub use oid::Oid;
pub use value::Value;

/// Rows sorted by OID. Walkers deliver rows in order, so inserting is an
/// append in the common case; lookups are binary searches.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Walk {
    rows: Vec<(Oid, Value)>,
}

/// One table row: the columns present, in column order.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Row<'a> {
    cells: &'a [Cell<'a>],
}

type Cell<'a> = (&'a [u32], u32, &'a Value);

impl<'a> Row<'a> {
    pub fn get(&self, column: u32) -> Option<&'a Value> {
        self.cells
            .iter()
            .find(|(_, c, _)| *c == column)
            .map(|(_, _, v)| *v)
    }

    pub fn has(&self, column: u32) -> bool {
        self.get(column).is_some()
    }
}

/// A conceptual table: its cells sorted by instance index, then column.
#[derive(Debug)]
pub struct Table<'a> {
    cells: Vec<Cell<'a>>,
    /// Where each row's cells start in `cells`.
    starts: Vec<usize>,
}

impl<'a> Table<'a> {
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// Rows in index order, each with its index.
    pub fn iter(&self) -> impl Iterator<Item = (&'a [u32], Row<'_>)> {
        self.starts.iter().enumerate().map(|(i, &start)| {
            let end = self.starts.get(i + 1).copied().unwrap_or(self.cells.len());
            let cells = &self.cells[start..end];
            (cells[0].0, Row { cells })
        })
    }
}

impl<'t, 'a> IntoIterator for &'t Table<'a> {
    type Item = (&'a [u32], Row<'t>);
    type IntoIter = Box<dyn Iterator<Item = Self::Item> + 't>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
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

    /// True when every row here comes before `oid`: rows from it on can be
    /// appended as they come.
    pub fn ends_before(&self, oid: &Oid) -> bool {
        self.rows.last().is_none_or(|(last, _)| last < oid)
    }

    pub fn into_rows(self) -> Vec<(Oid, Value)> {
        self.rows
    }

    /// A walk of rows already strictly increasing (the walker checks each
    /// answer's OIDs as they come).
    pub fn from_sorted(rows: Vec<(Oid, Value)>) -> Self {
        debug_assert!(rows.is_sorted_by(|a, b| a.0 < b.0));
        Self { rows }
    }

    /// Adds rows already in increasing order (one subtree's walk): appended
    /// when they come after every row here, else merged in one pass (a new
    /// value replaces an old one at the same OID).
    pub fn extend_sorted(&mut self, rows: Vec<(Oid, Value)>) {
        let (Some((first, _)), Some((last, _))) = (rows.first(), self.rows.last()) else {
            self.rows.extend(rows);
            return;
        };
        if last < first {
            self.rows.extend(rows);
            return;
        }
        let old = std::mem::take(&mut self.rows);
        self.rows.reserve(old.len() + rows.len());
        let (mut old, mut new) = (old.into_iter().peekable(), rows.into_iter().peekable());
        loop {
            let take_new = match (old.peek(), new.peek()) {
                (Some((o, _)), Some((n, _))) => match n.cmp(o) {
                    std::cmp::Ordering::Less => true,
                    std::cmp::Ordering::Equal => {
                        old.next();
                        true
                    }
                    std::cmp::Ordering::Greater => false,
                },
                (Some(_), None) => false,
                (None, Some(_)) => true,
                (None, None) => break,
            };
            let row = if take_new { new.next() } else { old.next() };
            self.rows.extend(row);
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
    pub fn table(&self, entry: &Oid) -> Table<'_> {
        let mut cells: Vec<Cell<'_>> = self
            .subtree(entry)
            .filter_map(|(suffix, value)| match suffix {
                [column, index @ ..] if !index.is_empty() => Some((index, *column, value)),
                _ => None,
            })
            .collect();
        // Stable: within a row, columns stay in walk (column) order.
        cells.sort_by(|a, b| a.0.cmp(b.0));
        let starts = (0..cells.len())
            .filter(|&i| i == 0 || cells[i - 1].0 != cells[i].0)
            .collect();
        Table { cells, starts }
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
    fn sorted_runs_are_appended_or_merged() {
        let run = |arcs: &[(&str, i64)]| -> Vec<(Oid, Value)> {
            arcs.iter()
                .map(|(o, v)| (oid(o), Value::Integer(*v)))
                .collect()
        };
        let mut w = Walk::new();
        w.extend_sorted(run(&[("1.3.6.1.4.1.2636.1", 1), ("1.3.6.1.4.1.2636.2", 2)]));
        w.extend_sorted(run(&[
            ("1.3.6.1.2.1.47.1", 3),
            ("1.3.6.1.4.1.2636.2", 4),
            ("1.3.6.1.9", 5),
        ]));
        w.extend_sorted(Vec::new());
        let got: Vec<(String, Value)> = w.iter().map(|(o, v)| (o.to_string(), v.clone())).collect();
        let want = run(&[
            ("1.3.6.1.2.1.47.1", 3),
            ("1.3.6.1.4.1.2636.1", 1),
            ("1.3.6.1.4.1.2636.2", 4),
            ("1.3.6.1.9", 5),
        ]);
        assert_eq!(
            got,
            want.into_iter()
                .map(|(o, v)| (o.to_string(), v))
                .collect::<Vec<_>>()
        );
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
        let rows: Vec<_> = t.iter().collect();
        assert_eq!((rows[0].0, rows[1].0), (&[7u32, 1][..], &[7u32, 2][..]));
        assert_eq!(rows[0].1.get(2), Some(&Value::Integer(1)));
        assert_eq!(rows[0].1.get(3), Some(&Value::Integer(3)));
        assert!(!rows[1].1.has(3));
    }
}
