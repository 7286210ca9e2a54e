//! CSV and XLSX import/export of register rows. A file is a header row naming the
//! columns (any order; unknown columns are refused) followed by data rows; row numbers
//! are those a spreadsheet shows (the header is row 1).

use std::collections::HashMap;
use std::io::Cursor;

/// File format of an import or export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s.to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "xlsx" => Some(Format::Xlsx),
            _ => None,
        }
    }
    /// Guess from a file name.
    pub fn from_file_name(name: &str) -> Option<Format> {
        name.rsplit('.').next().and_then(Format::parse)
    }
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }
}

/// One data row: its spreadsheet row number and its cells by column name.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub number: usize,
    pub cells: HashMap<String, String>,
}

impl Row {
    pub fn get(&self, column: &str) -> Option<String> {
        self.cells.get(column).cloned()
    }
}

/// Why a file could not be read at all (as opposed to bad rows).
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FileError {
    #[error("the file is empty: the first row must name the columns")]
    Empty,
    #[error("unknown column {0:?} in the header; expected some of: {1}")]
    UnknownColumn(String, String),
    #[error("column {0:?} appears twice in the header")]
    DuplicateColumn(String),
    #[error("row {row}: {reason}")]
    Malformed { row: usize, reason: String },
    #[error("not a readable XLSX workbook: {0}")]
    Xlsx(String),
}

/// Read rows from bytes. `columns` are the register's known columns.
pub fn read(format: Format, bytes: &[u8], columns: &[&str]) -> Result<Vec<Row>, FileError> {
    let records: Vec<Vec<String>> = match format {
        Format::Csv => read_csv(bytes)?,
        Format::Xlsx => read_xlsx(bytes)?,
    };
    let mut it = records.into_iter();
    let header: Vec<String> = it.next().ok_or(FileError::Empty)?;
    let header: Vec<String> = header.into_iter().map(|h| h.trim().trim_start_matches('\u{feff}').to_owned()).collect();
    for (i, h) in header.iter().enumerate() {
        if !columns.contains(&h.as_str()) {
            return Err(FileError::UnknownColumn(h.clone(), columns.join(", ")));
        }
        if header[..i].contains(h) {
            return Err(FileError::DuplicateColumn(h.clone()));
        }
    }
    Ok(it
        .enumerate()
        .filter(|(_, rec)| rec.iter().any(|c| !c.trim().is_empty()))
        .map(|(i, rec)| Row { number: i + 2, cells: header.iter().cloned().zip(rec).collect() })
        .collect())
}

fn read_csv(bytes: &[u8]) -> Result<Vec<Vec<String>>, FileError> {
    let mut r = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(bytes);
    r.records()
        .enumerate()
        .map(|(i, rec)| {
            rec.map(|rec| rec.iter().map(str::to_owned).collect())
                .map_err(|e| FileError::Malformed { row: i + 1, reason: e.to_string() })
        })
        .collect()
}

fn read_xlsx(bytes: &[u8]) -> Result<Vec<Vec<String>>, FileError> {
    use calamine::{Reader, Xlsx};
    let mut wb: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(|e| FileError::Xlsx(e.to_string()))?;
    let range = wb
        .worksheet_range_at(0)
        .ok_or_else(|| FileError::Xlsx("the workbook has no sheet".into()))?
        .map_err(|e| FileError::Xlsx(e.to_string()))?;
    Ok(range.rows().map(|r| r.iter().map(cell_text).collect()).collect())
}

fn cell_text(c: &calamine::Data) -> String {
    use calamine::Data;
    match c {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        // Identifiers typed into a spreadsheet become numbers; print integers without ".0".
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Int(i) => i.to_string(),
        Data::Bool(b) => b.to_string(),
        other => other.to_string(),
    }
}

/// Write a header and rows as CSV (UTF-8 with BOM, so spreadsheet programs show
/// Chinese correctly) or XLSX (identifiers as text, never as numbers).
pub fn write(format: Format, header: &[String], rows: &[Vec<String>]) -> Result<Vec<u8>, String> {
    match format {
        Format::Csv => {
            let mut out = Vec::from("\u{feff}".as_bytes());
            {
                let mut w = csv::Writer::from_writer(&mut out);
                w.write_record(header).map_err(|e| e.to_string())?;
                for r in rows {
                    w.write_record(r).map_err(|e| e.to_string())?;
                }
                w.flush().map_err(|e| e.to_string())?;
            }
            Ok(out)
        }
        Format::Xlsx => {
            let mut wb = rust_xlsxwriter::Workbook::new();
            let ws = wb.add_worksheet();
            let bold = rust_xlsxwriter::Format::new().set_bold();
            for (c, h) in header.iter().enumerate() {
                ws.write_string_with_format(0, c as u16, h, &bold).map_err(|e| e.to_string())?;
            }
            for (r, row) in rows.iter().enumerate() {
                for (c, v) in row.iter().enumerate() {
                    ws.write_string((r + 1) as u32, c as u16, v).map_err(|e| e.to_string())?;
                }
            }
            ws.set_freeze_panes(1, 0).map_err(|e| e.to_string())?;
            wb.save_to_buffer().map_err(|e| e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_round_trip_with_row_numbers() {
        let header = vec!["uscc".to_owned(), "name".to_owned()];
        let bytes =
            write(Format::Csv, &header, &[vec!["X".into(), "甲, 有限公司".into()], vec!["Y".into(), "乙".into()]])
                .unwrap();
        let rows = read(Format::Csv, &bytes, &["uscc", "name", "street"]).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].number, 2);
        assert_eq!(rows[0].get("name").as_deref(), Some("甲, 有限公司"));
        assert_eq!(rows[1].get("uscc").as_deref(), Some("Y"));
    }

    #[test]
    fn xlsx_round_trip() {
        let header = vec!["gtin".to_owned(), "name".to_owned()];
        let bytes = write(Format::Xlsx, &header, &[vec!["06901234567892".into(), "酸奶".into()]]).unwrap();
        let rows = read(Format::Xlsx, &bytes, &["gtin", "name"]).unwrap();
        assert_eq!(rows[0].get("gtin").as_deref(), Some("06901234567892"), "leading zero kept: stored as text");
    }

    #[test]
    fn bad_headers_are_named() {
        assert_eq!(
            read(Format::Csv, b"uscc,colour\n", &["uscc", "name"]).unwrap_err(),
            FileError::UnknownColumn("colour".into(), "uscc, name".into())
        );
        assert_eq!(read(Format::Csv, b"", &["uscc"]).unwrap_err(), FileError::Empty);
        assert!(matches!(read(Format::Xlsx, b"not a zip", &["uscc"]), Err(FileError::Xlsx(_))));
    }
}
