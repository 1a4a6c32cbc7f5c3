//! A real SMTP server on loopback for the account tests: aiosmtpd (PyPI,
//! pinned in scripts/py-venv, which this starts if needed) storing every
//! message it receives in a Maildir, read back here.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct SmtpSink {
    pub port: u16,
    maildir: tempfile::TempDir,
    child: Child,
}

/// One received message: its headers and its decoded text part.
#[derive(Debug, Clone)]
pub struct Mail {
    pub raw: String,
    pub text: String,
}

impl Mail {
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self
            .raw
            .split("\r\n\r\n")
            .next()
            .or_else(|| self.raw.split("\n\n").next())?;
        head.lines()
            .find(|l| {
                l.to_ascii_lowercase()
                    .starts_with(&format!("{}:", name.to_ascii_lowercase()))
            })
            .map(|l| l.split_once(':').unwrap().1.trim().to_owned())
    }

    /// The first link in the text part starting with `prefix`.
    pub fn link(&self, prefix: &str) -> String {
        let start = self
            .text
            .find(prefix)
            .unwrap_or_else(|| panic!("no {prefix} link in {}", self.text));
        self.text[start..].split_whitespace().next().unwrap().to_owned()
    }
}

fn python() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(root.join("scripts/py-venv"))
        .stderr(Stdio::inherit())
        .output()
        .expect("scripts/py-venv runs");
    assert!(out.status.success(), "scripts/py-venv failed");
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

impl SmtpSink {
    pub async fn start() -> Self {
        let python = tokio::task::spawn_blocking(python).await.unwrap();
        let maildir = tempfile::tempdir().unwrap();
        // A free port is chosen here and bound by aiosmtpd a moment later: a
        // parallel test may take it between the two. Then our child exits
        // (the port is taken) while the port answers (the other's sink), and
        // this test would read another test's mail: so the child must still
        // be running once the port answers, else another port is tried.
        for _ in 0..10 {
            let port = {
                let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                l.local_addr().unwrap().port()
            };
            let mut child = Command::new(&python)
                .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c"])
                .args(["aiosmtpd.handlers.Mailbox"])
                .arg(maildir.path().join("box"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("aiosmtpd starts");
            let deadline = Instant::now() + Duration::from_secs(20);
            let mut listening = false;
            while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
                if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    listening = child.try_wait().unwrap().is_none();
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            if listening {
                return Self { port, maildir, child };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("aiosmtpd did not listen on a port of its own");
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far.
    pub fn mails(&self) -> Vec<Mail> {
        let new = self.maildir.path().join("box/new");
        let mut files: Vec<_> = std::fs::read_dir(new)
            .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
        files
            .into_iter()
            .map(|p| {
                let raw = std::fs::read_to_string(p).unwrap();
                let text = text_part(&raw);
                Mail { raw, text }
            })
            .collect()
    }

    /// Waits (up to 20 s) for a message to `to` whose subject contains `subject`.
    pub async fn wait_for(&self, to: &str, subject: &str) -> Mail {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let found = self.mails().into_iter().find(|m| {
                m.header("To").is_some_and(|t| t.contains(to))
                    && m.header("Subject").is_some_and(|s| s.contains(subject))
            });
            if let Some(mail) = found {
                return mail;
            }
            assert!(
                Instant::now() < deadline,
                "no mail to {to} about {subject:?}: {:?}",
                self.mails()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The text/plain part of a multipart message, quoted-printable decoded.
fn text_part(raw: &str) -> String {
    let raw = raw.replace("\r\n", "\n");
    let start = raw.find("Content-Type: text/plain").expect("a text part");
    let part = &raw[start..];
    let (head, body) = part.split_once("\n\n").unwrap();
    let body = body.split("\n--").next().unwrap();
    if head.contains("quoted-printable") {
        decode_qp(body)
    } else {
        body.to_owned()
    }
}

fn decode_qp(body: &str) -> String {
    let joined = body.replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&joined[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
