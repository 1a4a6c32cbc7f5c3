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

/// A value as text for a terminal: control characters (a newline, an escape
/// sequence hidden in a name) are shown escaped, never sent to the terminal.
fn cell(v: &Value) -> String {
    let text = match v {
        Value::Null => return "NULL".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    text.chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

/// Which SQL dialect a statement is checked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    Sqlite,
    Postgres,
}

/// Statements that would leave the scope `aswan sql` runs in (the app role,
/// the tenant's context, one transaction), by their first word.
const SCOPE_CHANGING: [&str; 17] = [
    "set",
    "reset",
    "do",
    "discard",
    "load",
    "call",
    "begin",
    "start",
    "commit",
    "end",
    "rollback",
    "abort",
    "savepoint",
    "release",
    "prepare",
    "execute",
    "deallocate",
];

/// Checks that `sql` is exactly one statement and, on PostgreSQL, that it
/// does not change the role or the session's context (`SET ROLE`, `RESET`,
/// `set_config(…)`, `DO`, `COPY … PROGRAM` …). A lexical check: strings,
/// quoted identifiers and comments are skipped, so their contents never
/// count. It keeps an operator from leaving the scope by accident; it is not
/// a security boundary (the console acts with the rights of DATABASE_URL,
/// and a statement written to leave its tenant can: `"set_config"` quoted,
/// a Unicode-escaped name, a shared table). The docs say so.
pub(super) fn check_statement(sql: &str, dialect: Dialect) -> Result<(), String> {
    let (words, statements) = lex(sql)?;
    if statements == 0 {
        return Err("no statement given".into());
    }
    if statements > 1 {
        return Err("one statement at a time: run aswan sql once per statement".into());
    }
    if dialect == Dialect::Postgres {
        let first = words.first().map(String::as_str).unwrap_or_default();
        if SCOPE_CHANGING.contains(&first) {
            return Err(format!(
                "`{}` is refused: it would change the role or the session's context",
                first.to_uppercase()
            ));
        }
        if first == "copy" && words.iter().any(|w| w == "program") {
            return Err("`COPY … PROGRAM` is refused".into());
        }
        if words.iter().any(|w| w == "set_config") {
            return Err("`set_config` is refused: it would change the session's context".into());
        }
    }
    Ok(())
}

/// The words (lower-cased, outside strings, quoted identifiers and
/// comments) and the number of non-empty statements.
fn lex(sql: &str) -> Result<(Vec<String>, usize), String> {
    let chars: Vec<char> = sql.chars().collect();
    let (mut words, mut statements, mut current_has_content) = (Vec::new(), 0usize, false);
    let mut i = 0;
    let until = |i: usize, end: &str| -> Result<usize, String> {
        let end: Vec<char> = end.chars().collect();
        (i..=chars.len().saturating_sub(end.len()))
            .find(|&j| chars[j..j + end.len()] == end[..])
            .map(|j| j + end.len())
            .ok_or_else(|| "the statement ends inside a string, identifier or comment".to_owned())
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            '-' if chars.get(i + 1) == Some(&'-') => {
                i = chars[i..]
                    .iter()
                    .position(|&c| c == '\n')
                    .map_or(chars.len(), |p| i + p + 1);
            }
            '/' if chars.get(i + 1) == Some(&'*') => i = until(i + 2, "*/")?,
            '\'' => {
                current_has_content = true;
                // '' inside a string is an escaped quote: the scan resumes
                // after each closing quote and goes on if another follows.
                let mut j = until(i + 1, "'")?;
                while chars.get(j) == Some(&'\'') {
                    j = until(j + 1, "'")?;
                }
                i = j;
            }
            '"' | '`' => {
                current_has_content = true;
                i = until(i + 1, &c.to_string())?;
            }
            '[' if current_has_content || words.is_empty() => {
                current_has_content = true;
                i = until(i + 1, "]")?;
            }
            '$' => {
                current_has_content = true;
                // A dollar-quoted string: $$…$$ or $tag$…$tag$.
                let tag_end = chars[i + 1..]
                    .iter()
                    .position(|c| !(c.is_alphanumeric() || *c == '_'))
                    .map(|p| i + 1 + p);
                match tag_end {
                    Some(e) if chars[e] == '$' => {
                        let tag: String = chars[i..=e].iter().collect();
                        i = until(e + 1, &tag)?;
                    }
                    _ => i += 1,
                }
            }
            ';' => {
                if current_has_content {
                    statements += 1;
                }
                current_has_content = false;
                i += 1;
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                words.push(chars[start..i].iter().collect::<String>().to_lowercase());
                current_has_content = true;
            }
            c if c.is_whitespace() => i += 1,
            _ => {
                current_has_content = true;
                i += 1;
            }
        }
    }
    if current_has_content {
        statements += 1;
    }
    Ok((words, statements))
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
    fn one_statement_at_a_time() {
        for ok in [
            "SELECT 1",
            "SELECT 1;",
            "  SELECT ';' AS semi -- a comment; with a semicolon\n",
            "SELECT 'it''s; fine', \"odd;name\" FROM t /* ; */",
        ] {
            assert_eq!(check_statement(ok, Dialect::Sqlite), Ok(()), "{ok}");
        }
        for bad in [
            "PRAGMA query_only = OFF; DELETE FROM main.todos",
            "SELECT 1; SELECT 2",
            "",
            "  ;  ",
            "SELECT 'unterminated",
        ] {
            assert!(check_statement(bad, Dialect::Sqlite).is_err(), "{bad}");
        }
    }

    #[test]
    fn postgres_refuses_leaving_the_scope() {
        for bad in [
            "RESET ROLE",
            "set role postgres",
            "SELECT set_config('nile.tenant_id', 'x', true), (SELECT string_agg(title, ' | ') FROM todos)",
            "SELECT pg_catalog.SET_CONFIG('a', 'b', false)",
            "DO $$ BEGIN UPDATE todos SET title = 'x'; END $$",
            "COPY (SELECT 1) TO PROGRAM 'id'",
            "SET SESSION AUTHORIZATION postgres",
            "BEGIN",
            "COMMIT",
        ] {
            assert!(check_statement(bad, Dialect::Postgres).is_err(), "{bad}");
        }
        for ok in [
            "SELECT title FROM todos",
            "SELECT 'set_config' AS word, $$RESET ROLE$$",
            "UPDATE todos SET complete = true",
            "COPY (SELECT 1) TO STDOUT",
        ] {
            assert_eq!(check_statement(ok, Dialect::Postgres), Ok(()), "{ok}");
        }
    }

    #[test]
    fn control_characters_are_shown_escaped() {
        let t = SqlTable {
            columns: vec!["name".into()],
            rows: vec![vec![json!("a\u{1b}[31mred\nb")]],
            rows_affected: 0,
        };
        let text = t.to_string();
        assert!(!text.contains('\u{1b}'), "{text}");
        assert!(text.contains("\\u{1b}[31mred\\nb"), "{text}");
    }

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
