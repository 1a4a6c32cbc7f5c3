//! `aswan sql`: one statement, as the app would run it, with its result as a
//! table of JSON values. (The seed's "check the data in the query editor".)

use std::fmt;

use serde_json::{Map, Value};

/// A statement's result: column names and rows of JSON values.
#[derive(Debug, Default)]
pub struct SqlTable {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
    /// Rows changed, for statements that change rows.
    pub rows_affected: u64,
}

impl SqlTable {
    /// The rows as JSON objects keyed by column name.
    pub fn to_json(&self) -> Value {
        Value::Array(
            self.rows
                .iter()
                .map(|row| {
                    let obj: Map<String, Value> = self.columns.iter().cloned().zip(row.iter().cloned()).collect();
                    Value::Object(obj)
                })
                .collect(),
        )
    }
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => "NULL".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A psql-like text table.
impl fmt::Display for SqlTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.columns.is_empty() {
            return writeln!(f, "({} rows affected)", self.rows_affected);
        }
        let cells: Vec<Vec<String>> = self.rows.iter().map(|r| r.iter().map(cell).collect()).collect();
        let widths: Vec<usize> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                cells
                    .iter()
                    .map(|r| r[i].chars().count())
                    .chain([c.chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |f: &mut fmt::Formatter<'_>, values: &[String]| {
            let padded: Vec<String> = values.iter().zip(&widths).map(|(v, w)| format!("{v:<w$}")).collect();
            writeln!(f, " {}", padded.join(" | ").trim_end())
        };
        line(f, &self.columns)?;
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        writeln!(f, "-{}-", rule.join("-+-"))?;
        for row in &cells {
            line(f, row)?;
        }
        writeln!(f, "({} row{})", cells.len(), if cells.len() == 1 { "" } else { "s" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_text_and_json() {
        let t = SqlTable {
            columns: vec!["title".into(), "n".into()],
            rows: vec![vec![json!("a"), json!(1)], vec![json!(null), json!(22)]],
            rows_affected: 0,
        };
        assert_eq!(
            t.to_string(),
            " title | n\n-------+----\n a     | 1\n NULL  | 22\n(2 rows)\n"
        );
        assert_eq!(
            t.to_json(),
            json!([{ "title": "a", "n": 1 }, { "title": null, "n": 22 }])
        );
    }
}
