//! The inventory as of the window's end as CSV, one row per present item,
//! for spreadsheets and asset systems.

use super::Audit;

/// The CSV text: a header line, then the rows as `Row` names its fields.
pub fn render(audit: &Audit) -> Result<Vec<u8>, ::csv::Error> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    for row in &audit.rows {
        let mut row = row.clone();
        row.text_mut().into_iter().for_each(defuse);
        w.serialize(row)?;
    }
    if audit.rows.is_empty() {
        // serde writes the header with the first row; an empty inventory still names its columns.
        w.write_record(COLUMNS)?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

/// A value a spreadsheet would take for a formula (`=HYPERLINK(…)` in a
/// description a device reports, or `-48V` read as arithmetic) is kept as
/// text by a leading `'`, as spreadsheets themselves write it.
fn defuse(cell: &mut String) {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        cell.insert(0, '\'');
    }
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
    fn cells_a_spreadsheet_would_evaluate_are_kept_as_text() {
        let mut row = row();
        row.device = "=cmd|' /C calc'!A0".into();
        row.description = "-48V DC power supply".into();
        row.model = "+1".into();
        row.name = "@SUM(A1)".into();
        row.mfg = "\t=1".into();
        row.path = "Chassis / Slot 1".into();
        let text = String::from_utf8(render(&audit(vec![row])).unwrap()).unwrap();
        let mut reader = ::csv::Reader::from_reader(text.as_bytes());
        let record = reader.records().next().unwrap().unwrap();
        assert_eq!(&record[0], "'=cmd|' /C calc'!A0");
        assert_eq!(&record[4], "'+1");
        assert_eq!(&record[5], "'@SUM(A1)");
        assert_eq!(&record[6], "'-48V DC power supply");
        assert_eq!(&record[9], "'\t=1");
        assert_eq!(&record[13], "Chassis / Slot 1");
        assert_eq!(&record[7], "S");
    }

    #[test]
    fn an_empty_inventory_has_the_header_rows_have() {
        let full = String::from_utf8(render(&audit(vec![row()])).unwrap()).unwrap();
        let empty = String::from_utf8(render(&audit(Vec::new())).unwrap()).unwrap();
        assert_eq!(full.lines().next(), empty.lines().next());
        assert_eq!(empty.lines().count(), 1);
    }

    fn row() -> super::super::Row {
        super::super::Row {
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
        }
    }
}
