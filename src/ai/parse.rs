//! Reading an estimate out of what a chat model really says: JSON as asked
//! ({"minutes": 90, "text": "…"}), or prose such as "2 hours", "30-45 min",
//! "1.5h", "about 2 days". Tolerant in what it reads, strict in what it
//! returns: minutes within bounds, a short plain-text explanation.

use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;

/// The longest estimate accepted: 30 working days of 8 hours.
pub const MAX_MINUTES: u32 = 30 * 8 * 60;
/// The longest explanation kept.
pub const MAX_TEXT: usize = 256;

/// Working time: a day is 8 hours, a week 5 days.
const DAY: f64 = 8.0 * 60.0;
const WEEK: f64 = 5.0 * DAY;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Estimate {
    pub minutes: u32,
    /// Human text, plain (no markup), at most [`MAX_TEXT`] characters.
    pub text: String,
}

/// `None` when no duration can be read, or it is out of bounds.
pub fn parse_estimate(answer: &str) -> Option<Estimate> {
    from_json(answer).or_else(|| from_prose(answer))
}

fn from_json(answer: &str) -> Option<Estimate> {
    let start = answer.find('{')?;
    let end = answer.rfind('}')?;
    let value: Value = serde_json::from_str(answer.get(start..=end)?).ok()?;
    let text = ["text", "explanation", "estimate", "reason"]
        .iter()
        .find_map(|k| value.get(*k).and_then(Value::as_str))
        .unwrap_or_default();
    let minutes = match value.get("minutes") {
        Some(Value::Number(n)) => n.as_f64()?,
        Some(Value::String(s)) => s.trim().parse().ok().or_else(|| duration_in(s).map(|(m, _)| m))?,
        _ => duration_in(text)?.0,
    };
    finish(minutes, text)
}

fn from_prose(answer: &str) -> Option<Estimate> {
    let (minutes, sentence) = duration_in(answer)?;
    finish(minutes, &sentence)
}

/// The first duration in `text` (a range counts as its midpoint), and the
/// sentence it stands in.
fn duration_in(text: &str) -> Option<(f64, String)> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(
            r"(?i)(\d+(?:[.,]\d+)?)\s*(?:(?:-|–|to)\s*(\d+(?:[.,]\d+)?)\s*)?(minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|wks?|w)\b",
        )
        .expect("valid regex")
    });
    let caps = re.captures(text)?;
    let num = |i: usize| {
        caps.get(i)
            .and_then(|m| m.as_str().replace(',', ".").parse::<f64>().ok())
    };
    let low = num(1)?;
    let value = num(2).map_or(low, |high| (low + high) / 2.0);
    let unit = caps.get(3)?.as_str().to_lowercase();
    let per = match unit.chars().next()? {
        'm' => 1.0,
        'h' => 60.0,
        'd' => DAY,
        _ => WEEK,
    };
    let whole = caps.get(0)?;
    let from = text[..whole.start()].rfind(['.', '\n', '!', '?']).map_or(0, |i| i + 1);
    let to = text[whole.end()..]
        .find(['\n', '!', '?'])
        .map_or(text.len(), |i| whole.end() + i);
    Some((value * per, text[from..to].to_owned()))
}

fn finish(minutes: f64, text: &str) -> Option<Estimate> {
    if !minutes.is_finite() || minutes < 0.5 {
        return None;
    }
    let minutes = minutes.round();
    if minutes > f64::from(MAX_MINUTES) {
        return None;
    }
    let minutes = minutes as u32;
    let text = plain_text(text);
    let text = if text.is_empty() { format_minutes(minutes) } else { text };
    Some(Estimate { minutes, text })
}

/// Collapses whitespace, drops control characters and markup brackets, and
/// cuts to [`MAX_TEXT`] characters: what is stored is plain text whatever the
/// title or the model tried to inject.
pub fn plain_text(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .filter(|c| !matches!(c, '<' | '>' | '`' | '*' | '#'))
        .collect();
    let collapsed = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    let trimmed = collapsed.trim_matches(|c: char| c == '"' || c == '\'' || c.is_whitespace());
    if trimmed.chars().count() <= MAX_TEXT {
        return trimmed.to_owned();
    }
    let mut cut: String = trimmed.chars().take(MAX_TEXT - 1).collect();
    cut.push('…');
    cut
}

/// "45 min", "1 h 30 min", "2 h", "2.5 days" (working days of 8 hours).
pub fn format_minutes(minutes: u32) -> String {
    match minutes {
        m if m < 60 => format!("{m} min"),
        m if m < 8 * 60 => match (m / 60, m % 60) {
            (h, 0) => format!("{h} h"),
            (h, r) => format!("{h} h {r} min"),
        },
        m => {
            let days = f64::from(m) / DAY;
            let rounded = (days * 2.0).round() / 2.0;
            if rounded == 1.0 {
                "1 day".to_owned()
            } else {
                format!("{rounded} days")
            }
        }
    }
}

/// A range as people say it: "20–45 min", "1–2 h", "45 min–1 h 30 min",
/// "1–2 days".
pub fn format_range(low: u32, high: u32) -> String {
    let hours = |m: u32| (60..8 * 60).contains(&m) && m % 60 == 0;
    if high < 60 {
        format!("{low}–{high} min")
    } else if hours(low) && hours(high) {
        format!("{}–{} h", low / 60, high / 60)
    } else {
        let (l, h) = (format_minutes(low), format_minutes(high));
        match (
            l.strip_suffix(" days").or(l.strip_suffix(" day")),
            h.strip_suffix(" days"),
        ) {
            (Some(l), Some(h)) => format!("{l}–{h} days"),
            _ => format!("{l}–{h}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minutes(s: &str) -> Option<u32> {
        parse_estimate(s).map(|e| e.minutes)
    }

    #[test]
    fn reads_json_as_asked() {
        let e = parse_estimate(r#"{"minutes": 90, "text": "About 1.5 hours, like the report"}"#).unwrap();
        assert_eq!(
            e,
            Estimate {
                minutes: 90,
                text: "About 1.5 hours, like the report".into()
            }
        );
        assert_eq!(
            minutes("Sure! ```json\n{\"minutes\": \"45\", \"text\": \"quick\"}\n```"),
            Some(45)
        );
        assert_eq!(minutes(r#"{"estimate": "2 hours"}"#), Some(120));
    }

    #[test]
    fn reads_prose() {
        assert_eq!(minutes("2 hours"), Some(120));
        assert_eq!(minutes("30-45 min"), Some(38));
        assert_eq!(minutes("1.5h"), Some(90));
        assert_eq!(minutes("2 days"), Some(960));
        assert_eq!(minutes("It should take about 20 minutes to finish."), Some(20));
        assert_eq!(minutes("Roughly 1 to 2 hours."), Some(90));
        assert_eq!(minutes("1 week"), Some(2400));
    }

    #[test]
    fn refuses_what_is_not_an_estimate() {
        assert_eq!(minutes("I cannot say."), None);
        assert_eq!(minutes(""), None);
        assert_eq!(minutes("0 minutes"), None);
        assert_eq!(minutes("400 weeks"), None);
        assert_eq!(minutes(r#"{"minutes": -5}"#), None);
    }

    #[test]
    fn stored_text_is_plain_and_short() {
        let e = parse_estimate("About 2 hours <img src=x onerror=alert(1)> **bold**").unwrap();
        assert!(!e.text.contains('<') && !e.text.contains('*'), "{}", e.text);
        let long = format!("{{\"minutes\": 10, \"text\": \"{}\"}}", "word ".repeat(200));
        assert!(parse_estimate(&long).unwrap().text.chars().count() <= MAX_TEXT);
        assert_eq!(parse_estimate(r#"{"minutes": 75}"#).unwrap().text, "1 h 15 min");
    }

    #[test]
    fn formats_minutes() {
        assert_eq!(format_minutes(45), "45 min");
        assert_eq!(format_minutes(120), "2 h");
        assert_eq!(format_minutes(135), "2 h 15 min");
        assert_eq!(format_minutes(480), "1 day");
        assert_eq!(format_minutes(1200), "2.5 days");
    }

    #[test]
    fn ranges_read_naturally() {
        assert_eq!(format_range(20, 45), "20–45 min");
        assert_eq!(format_range(60, 120), "1–2 h");
        assert_eq!(format_range(45, 90), "45 min–1 h 30 min");
        assert_eq!(format_range(960, 1920), "2–4 days");
        assert_eq!(format_range(240, 960), "4 h–2 days");
    }
}
