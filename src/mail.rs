//! Mail (optional): invitations, email verification and password resets,
//! sent through the SMTP server of SMTP_URL with `lettre`. Each message is
//! multipart: plain text and HTML with the same words and link.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{InvalidSetting, Settings};

/// How long one delivery may take before it is given up (and logged).
const SEND_TIMEOUT: Duration = Duration::from_secs(15);

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

/// One message's words: a subject, a paragraph, a link and what it is for.
pub struct Letter<'a> {
    pub subject: String,
    pub lead: String,
    pub action: &'a str,
    pub link: &'a str,
    pub footer: &'a str,
}

/// The words of each mail Aswan sends. Subjects are fixed text: nothing a
/// user typed goes into one (it could make a mail read as from someone else).
impl<'a> Letter<'a> {
    /// An invitation to `tenant` as `role`, from `inviter`, for `to`.
    pub fn invitation(inviter: &str, tenant: &str, role: &str, to: &str, link: &'a str) -> Self {
        Self {
            subject: "You have an invitation on Aswan".into(),
            lead: format!(
                "{inviter} invites you to join {tenant} on Aswan as {role}. Sign in (or sign up) with this address, {to}, then open the link. It works once, for 7 days."
            ),
            action: "Join",
            link,
            footer: "If you did not expect this, ignore this mail.",
        }
    }

    /// A link that confirms that `email` is its owner's.
    pub fn verification(email: &str, link: &'a str) -> Self {
        Self {
            subject: "Confirm your email address for Aswan".into(),
            lead: format!("Someone (we hope you) signed up to Aswan as {email}."),
            action: "Confirm this address",
            link,
            footer: "If it was not you, ignore this mail: nothing happens without the link.",
        }
    }

    /// A link that sets a new password for the account `email`.
    pub fn password_reset(email: &str, link: &'a str) -> Self {
        Self {
            subject: "Reset your Aswan password".into(),
            lead: format!(
                "Someone (we hope you) asked to reset the password of the Aswan account {email}. The link works once, for 30 minutes."
            ),
            action: "Choose a new password",
            link,
            footer: "If it was not you, ignore this mail: your password stays as it is.",
        }
    }
}

impl Mailer {
    /// `None` without SMTP_URL.
    pub fn from_settings(settings: &Settings) -> Result<Option<Self>, InvalidSetting> {
        let Some(url) = &settings.smtp_url else {
            return Ok(None);
        };
        // The links in mails must not come from a request's Host header,
        // which a client chooses (a reset link pointing elsewhere).
        if settings.public_url.is_none() {
            return Err(InvalidSetting(
                "SMTP_URL needs PUBLIC_URL: the links in mails point at this server's public address".into(),
            ));
        }
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
            .map_err(|e| InvalidSetting(format!("SMTP_URL: {e}")))?
            .timeout(Some(SEND_TIMEOUT))
            .build();
        let from = settings
            .smtp_from
            .parse()
            .map_err(|e| InvalidSetting(format!("SMTP_FROM: {e}")))?;
        Ok(Some(Self { transport, from }))
    }

    /// Sends `letter` to `to`.
    pub async fn send(&self, to: &str, letter: &Letter<'_>) -> anyhow::Result<()> {
        let text = format!(
            "{}\n\n{}: {}\n\n{}\n",
            letter.lead, letter.action, letter.link, letter.footer
        );
        let html = format!(
            "<!doctype html><html><body style=\"font-family:sans-serif\">\
             <p>{}</p><p><a href=\"{}\">{}</a></p><p style=\"color:#666\">{}</p></body></html>",
            escape(&letter.lead),
            escape(letter.link),
            escape(letter.action),
            escape(letter.footer),
        );
        let message = Message::builder()
            .from(self.from.clone())
            .to(to.parse()?)
            .subject(&letter.subject)
            .multipart(MultiPart::alternative_plain_html(text, html))?;
        tokio::time::timeout(SEND_TIMEOUT, self.transport.send(message))
            .await
            .map_err(|_| anyhow::anyhow!("the mail server did not answer in time"))??;
        Ok(())
    }
}

/// Text made safe inside HTML (names and titles are the users').
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_what_users_type() {
        assert_eq!(super::escape("<b>\"A&B\""), "&lt;b&gt;&quot;A&amp;B&quot;");
    }
}
