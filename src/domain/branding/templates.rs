//! Email templates: a fixed set of keys, the variables each offers (documented here and in
//! `emailTemplateKeys`), the built-in default of each, and rendering with `minijinja`.
//!
//! Rules: the body is HTML and **autoescaped** (a variable holding `<b>` renders `&lt;b&gt;`);
//! the subject is plain text (no markup is interpreted, newlines are refused). Variables are
//! **strict**: a template that names a variable its key does not offer is refused on save
//! (`BAD_USER_INPUT` naming the variable and the line), as is a syntax error (with its line).
//! Rendering is bounded by minijinja's fuel, so a template cannot loop for ever.

use std::collections::BTreeMap;

use crate::error::AppError;
use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};

crate::text_enum! {
    /// The emails whose template a tenant or partner may override.
    #[derive(async_graphql::Enum)]
    pub enum EmailTemplateKey {
        /// Sent to a new member with their sign-in link.
        Welcome = "welcome",
        /// Sent with a password reset link.
        PasswordReset = "password_reset",
        /// Sent when an invoice is issued.
        Invoice = "invoice",
        /// Sent to admins when a mail domain's DNS records start failing.
        DomainFailing = "domain_failing",
        /// Sent to a partner's new staff member.
        StaffInvite = "staff_invite",
    }
}

/// One variable a template may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variable {
    /// Its name in the template (`{{ name }}`).
    pub name: &'static str,
    /// What it holds.
    pub description: &'static str,
    /// The value previews use unless the caller gives one.
    pub sample: &'static str,
}

const COMMON: &[Variable] = &[
    Variable {
        name: "product_name",
        description: "The product name of the effective branding.",
        sample: "Dezky",
    },
    Variable {
        name: "tenant_name",
        description: "The tenant's display name.",
        sample: "Acme Ltd",
    },
    Variable {
        name: "recipient_name",
        description: "The recipient's display name.",
        sample: "Ada Lovelace",
    },
];

impl EmailTemplateKey {
    /// The variables this key offers (the common ones first).
    pub fn variables(self) -> Vec<Variable> {
        let own: &[Variable] = match self {
            Self::Welcome => &[Variable {
                name: "login_url",
                description: "Where the recipient signs in.",
                sample: "https://portal.example.com/login",
            }],
            Self::PasswordReset => &[
                Variable {
                    name: "reset_url",
                    description: "The one-time password reset link.",
                    sample: "https://portal.example.com/reset/abc123",
                },
                Variable {
                    name: "expires_in_minutes",
                    description: "How long the link is valid, in minutes.",
                    sample: "30",
                },
            ],
            Self::Invoice => &[
                Variable {
                    name: "invoice_number",
                    description: "The invoice's number.",
                    sample: "INV-2026-0042",
                },
                Variable {
                    name: "amount",
                    description: "The amount due, formatted with its currency.",
                    sample: "EUR 120.00",
                },
                Variable {
                    name: "due_date",
                    description: "The due date (YYYY-MM-DD).",
                    sample: "2026-12-31",
                },
                Variable {
                    name: "invoice_url",
                    description: "Where the invoice can be viewed and paid.",
                    sample: "https://portal.example.com/invoices/INV-2026-0042",
                },
            ],
            Self::DomainFailing => &[
                Variable {
                    name: "domain",
                    description: "The failing mail domain.",
                    sample: "acme.example",
                },
                Variable {
                    name: "failing_records",
                    description: "The failing record types, comma-separated (e.g. `MX, DKIM`).",
                    sample: "MX, DKIM",
                },
            ],
            Self::StaffInvite => &[
                Variable {
                    name: "partner_name",
                    description: "The partner's display name.",
                    sample: "Resell GmbH",
                },
                Variable {
                    name: "invite_url",
                    description: "Where the new staff member signs in.",
                    sample: "https://portal.example.com/partner",
                },
            ],
        };
        COMMON.iter().chain(own).copied().collect()
    }

    /// The built-in template: `(subject, body)`.
    pub fn default_template(self) -> (&'static str, &'static str) {
        match self {
            Self::Welcome => (
                "Welcome to {{ product_name }}",
                "<p>Hello {{ recipient_name }},</p>\n<p>your {{ product_name }} account at {{ tenant_name }} is ready.</p>\n<p><a href=\"{{ login_url }}\">Sign in</a></p>",
            ),
            Self::PasswordReset => (
                "Reset your {{ product_name }} password",
                "<p>Hello {{ recipient_name }},</p>\n<p><a href=\"{{ reset_url }}\">Choose a new password</a>; the link is valid for {{ expires_in_minutes }} minutes.</p>",
            ),
            Self::Invoice => (
                "Invoice {{ invoice_number }} from {{ product_name }}",
                "<p>Hello {{ recipient_name }},</p>\n<p>invoice {{ invoice_number }} for {{ tenant_name }} over {{ amount }} is due on {{ due_date }}.</p>\n<p><a href=\"{{ invoice_url }}\">View the invoice</a></p>",
            ),
            Self::DomainFailing => (
                "{{ domain }} needs attention",
                "<p>Hello {{ recipient_name }},</p>\n<p>the DNS records of {{ domain }} ({{ tenant_name }}) are failing: {{ failing_records }}.</p>",
            ),
            Self::StaffInvite => (
                "You have been added to {{ partner_name }} on {{ product_name }}",
                "<p>Hello {{ recipient_name }},</p>\n<p>you are now staff of {{ partner_name }}.</p>\n<p><a href=\"{{ invite_url }}\">Open the partner portal</a></p>",
            ),
        }
    }

    /// The documented sample values, as a map.
    pub fn sample(self) -> BTreeMap<String, String> {
        self.variables()
            .into_iter()
            .map(|v| (v.name.to_owned(), v.sample.to_owned()))
            .collect()
    }
}

/// The most characters a subject may have.
pub const MAX_SUBJECT: usize = 300;
/// The most bytes a body may have.
pub const MAX_BODY: usize = 64 * 1024;
/// The fuel one render may burn (minijinja's instruction budget).
const FUEL: u64 = 100_000;

const SUBJECT: &str = "subject.txt";
const BODY: &str = "body.html";

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    env.set_fuel(Some(FUEL));
    env
}

/// A rendered email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The subject (plain text).
    pub subject: String,
    /// The body (HTML).
    pub body: String,
}

/// A template checked against its key: it parses, names only the key's variables and
/// renders with the key's sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedTemplate {
    /// The subject template.
    pub subject: String,
    /// The body template.
    pub body: String,
}

impl CheckedTemplate {
    /// Validates a template for `key`; errors name `field_prefix.subject` or `.body`, and
    /// the line.
    pub fn parse(
        key: EmailTemplateKey,
        subject: &str,
        body: &str,
        field_prefix: &str,
    ) -> Result<Self, AppError> {
        let subject_field = format!("{field_prefix}.subject");
        let body_field = format!("{field_prefix}.body");
        if subject.trim().is_empty() || subject.chars().count() > MAX_SUBJECT {
            return Err(AppError::bad_input(
                &subject_field,
                format!("a subject is 1 to {MAX_SUBJECT} characters"),
            ));
        }
        if subject.contains(['\r', '\n']) {
            return Err(AppError::bad_input(&subject_field, "a subject is one line"));
        }
        if body.trim().is_empty() || body.len() > MAX_BODY {
            return Err(AppError::bad_input(
                &body_field,
                format!("a body is 1 to {MAX_BODY} bytes"),
            ));
        }
        let allowed: Vec<&str> = key.variables().iter().map(|v| v.name).collect();
        check_one(SUBJECT, subject, &allowed, key, &subject_field)?;
        check_one(BODY, body, &allowed, key, &body_field)?;
        Ok(Self {
            subject: subject.to_owned(),
            body: body.to_owned(),
        })
    }

    /// Renders with `values` (every variable of the key must be present).
    pub fn render(&self, values: &BTreeMap<String, String>) -> Result<Rendered, AppError> {
        let mut env = environment();
        let context = Value::from_serialize(values);
        let mut render = |name: &'static str, source: &str| {
            env.add_template_owned(name, source.to_owned())
                .and_then(|()| env.get_template(name)?.render(&context))
                .map_err(|e| AppError::bad_input("sample", describe(&e)))
        };
        let subject = render(SUBJECT, &self.subject)?;
        let body = render(BODY, &self.body)?;
        Ok(Rendered { subject, body })
    }
}

/// The values a preview renders with: the key's samples, overridden by `given`; a name the
/// key does not offer is `BAD_USER_INPUT` on `field`.
pub fn sample_values(
    key: EmailTemplateKey,
    given: Option<&serde_json::Value>,
    field: &str,
) -> Result<BTreeMap<String, String>, AppError> {
    let mut values = key.sample();
    let Some(given) = given else {
        return Ok(values);
    };
    let Some(object) = given.as_object() else {
        return Err(AppError::bad_input(field, "the sample is a JSON object"));
    };
    for (name, value) in object {
        if !values.contains_key(name) {
            return Err(AppError::bad_input(
                format!("{field}.{name}"),
                format!("the {} template has no variable {name:?}", key.as_str()),
            ));
        }
        let text = match value {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(_) | serde_json::Value::Bool(_) => value.to_string(),
            _ => {
                return Err(AppError::bad_input(
                    format!("{field}.{name}"),
                    "a sample value is a string, number or boolean",
                ));
            }
        };
        values.insert(name.clone(), text);
    }
    Ok(values)
}

fn describe(error: &minijinja::Error) -> String {
    let what = error.detail().unwrap_or("invalid template").to_owned();
    match error.line() {
        Some(line) => format!("line {line}: {what}"),
        None => what,
    }
}

fn check_one(
    name: &'static str,
    source: &str,
    allowed: &[&str],
    key: EmailTemplateKey,
    field: &str,
) -> Result<(), AppError> {
    let mut env = environment();
    if let Err(e) = env.add_template_owned(name, source.to_owned()) {
        let line = e.line().unwrap_or(1);
        let detail = e.detail().unwrap_or("syntax error");
        return Err(AppError::bad_input(
            field,
            format!("line {line}: syntax error: {detail}"),
        ));
    }
    let template = env
        .get_template(name)
        .map_err(|e| AppError::bad_input(field, describe(&e)))?;
    let mut unknown: Vec<String> = template
        .undeclared_variables(false)
        .into_iter()
        .filter(|v| !allowed.contains(&v.as_str()))
        .collect();
    unknown.sort();
    if let Some(variable) = unknown.first() {
        let line = line_of(source, variable);
        return Err(AppError::bad_input(
            field,
            format!(
                "line {line}: unknown variable {variable:?}; the {} template offers {}",
                key.as_str(),
                allowed.join(", ")
            ),
        ));
    }
    let sample = Value::from_serialize(key.sample());
    template
        .render(&sample)
        .map(drop)
        .map_err(|e| AppError::bad_input(field, describe(&e)))?;
    Ok(())
}

/// The first line where `variable` appears as a whole word inside a `{{ }}` or `{% %}` tag.
fn line_of(source: &str, variable: &str) -> usize {
    let word = |line: &str| {
        line.match_indices(variable).any(|(i, _)| {
            let before = line[..i].chars().next_back();
            let after = line[i + variable.len()..].chars().next();
            let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
            !ident(before) && !ident(after)
        })
    };
    source
        .lines()
        .position(|l| {
            (l.contains("{{") || l.contains("{%") || l.contains("}}") || l.contains("%}"))
                && word(l)
        })
        .or_else(|| source.lines().position(word))
        .map_or(1, |i| i + 1)
}

/// The default template of `key`, checked (the built-ins pass their own checks; a test holds
/// that).
pub fn default_checked(key: EmailTemplateKey) -> CheckedTemplate {
    let (subject, body) = key.default_template();
    CheckedTemplate {
        subject: subject.to_owned(),
        body: body.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(e: &AppError) -> (String, String) {
        match e {
            AppError::BadUserInput { field, message } => (field.clone(), message.clone()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_key_renders_its_default_with_its_sample() {
        for &key in EmailTemplateKey::ALL {
            let (subject, body) = key.default_template();
            let checked = CheckedTemplate::parse(key, subject, body, "input").unwrap();
            let rendered = checked.render(&key.sample()).unwrap();
            assert!(!rendered.subject.contains("{{"), "{key}");
            for v in key.variables() {
                let used = subject.contains(v.name) || body.contains(v.name);
                // The body is HTML-escaped (`/` becomes `&#x2f;`); the subject is not.
                let escaped = v.sample.replace('/', "&#x2f;");
                assert!(
                    !used
                        || rendered.body.contains(&escaped)
                        || rendered.subject.contains(v.sample),
                    "{key}: {}",
                    v.name
                );
            }
        }
    }

    #[test]
    fn unknown_variables_and_syntax_errors_name_the_line() {
        let body = "<p>Hello</p>\n<p>{{ recipient_name }}</p>\n<p>{{ secret_token }}</p>";
        let e = CheckedTemplate::parse(EmailTemplateKey::Welcome, "Hi", body, "input").unwrap_err();
        let (f, message) = field(&e);
        assert_eq!(f, "input.body");
        assert!(message.starts_with("line 3:"), "{message}");
        assert!(message.contains("secret_token"), "{message}");

        let body = "<p>ok</p>\n{% if tenant_name %}\n<p>{{ tenant_name }</p>";
        let e = CheckedTemplate::parse(EmailTemplateKey::Welcome, "Hi", body, "input").unwrap_err();
        let (f, message) = field(&e);
        assert_eq!(f, "input.body");
        assert!(message.starts_with("line 3:"), "{message}");
        assert!(message.contains("syntax error"), "{message}");

        let e =
            CheckedTemplate::parse(EmailTemplateKey::Invoice, "{{ nope }}", "<p>x</p>", "input")
                .unwrap_err();
        assert_eq!(field(&e).0, "input.subject");
        // A variable used only in a branch not taken is still refused.
        let body = "{% if false %}\n\n{{ reset_url }}\n{% endif %}";
        let e = CheckedTemplate::parse(EmailTemplateKey::Welcome, "Hi", body, "input").unwrap_err();
        assert!(field(&e).1.starts_with("line 3:"), "{:?}", field(&e));
    }

    #[test]
    fn html_in_variables_is_escaped_in_the_body_only() {
        let checked = CheckedTemplate::parse(
            EmailTemplateKey::Welcome,
            "Hi {{ recipient_name }}",
            "<p>{{ recipient_name }}</p>",
            "input",
        )
        .unwrap();
        let mut values = EmailTemplateKey::Welcome.sample();
        values.insert("recipient_name".into(), "<script>x</script>".into());
        let rendered = checked.render(&values).unwrap();
        assert_eq!(rendered.body, "<p>&lt;script&gt;x&lt;&#x2f;script&gt;</p>");
        assert_eq!(rendered.subject, "Hi <script>x</script>");
    }

    #[test]
    fn runaway_templates_run_out_of_fuel() {
        let body =
            "{% for a in range(10000) %}{% for b in range(10000) %}x{% endfor %}{% endfor %}";
        assert!(CheckedTemplate::parse(EmailTemplateKey::Welcome, "Hi", body, "input").is_err());
    }
}
