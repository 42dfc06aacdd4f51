//! The inventory as of the window's end as CSV, one row per present item,
//! for spreadsheets and asset systems.

use super::Audit;

/// The CSV text: a header line, then the rows as `Row` names its fields.
pub fn render(audit: &Audit) -> Result<Vec<u8>, ::csv::Error> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    for row in &audit.rows {
        w.serialize(row)?;
    }
    if audit.rows.is_empty() {
        // serde writes the header with the first row; an empty inventory still names its columns.
        w.write_record(COLUMNS)?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

const COLUMNS: [&str; 16] = [
    "device",
    "site",
    "vendor",
    "class",
    "model",
    "name",
    "description",
    "serial",
    "serial_issue",
    "mfg",
    "hw_rev",
    "fw_rev",
    "sw_rev",
    "path",
    "collected_at",
    "snapshot_status",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn audit(rows: Vec<super::super::Row>) -> Audit {
        let diff = crate::diff::compare(Vec::new(), "a", "b", Vec::new());
        Audit {
            generated_at: chrono::DateTime::UNIX_EPOCH,
            store: String::new(),
            diff,
            rows,
            groups: Vec::new(),
            serial_issues: Default::default(),
            duplicates: Vec::new(),
            attention: Vec::new(),
        }
    }

    #[test]
    fn an_empty_inventory_has_the_header_rows_have() {
        let row = super::super::Row {
            device: "r1".into(),
            site: String::new(),
            vendor: String::new(),
            class: String::new(),
            model: String::new(),
            name: String::new(),
            description: String::new(),
            serial: "S".into(),
            serial_issue: String::new(),
            mfg: String::new(),
            hw_rev: String::new(),
            fw_rev: String::new(),
            sw_rev: String::new(),
            path: String::new(),
            collected_at: chrono::DateTime::UNIX_EPOCH,
            snapshot_status: crate::snapshot::Status::Ok,
        };
        let full = String::from_utf8(render(&audit(vec![row])).unwrap()).unwrap();
        let empty = String::from_utf8(render(&audit(Vec::new())).unwrap()).unwrap();
        assert_eq!(full.lines().next(), empty.lines().next());
        assert_eq!(empty.lines().count(), 1);
    }
}
