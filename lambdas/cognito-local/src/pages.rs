//! The identity provider's HTML: sign-in, sign-up and error pages. Server-rendered forms, no
//! scripts, every interpolated value escaped, served under a CSP that allows only this origin.

use std::fmt::Write;

use axum::http::StatusCode;
use axum::response::Response;

use super::users::MIN_PASSWORD_LENGTH;
use local_support::html::{escape, page};

/// `default-src 'self'` with framing and `<base>` shut off as well (neither falls back to
/// `default-src`).
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

pub const STYLESHEET: &str = "\
body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0;color:#1d2330}
main{max-width:24rem;margin:4rem auto;background:#fff;padding:2rem;border-radius:8px;\
box-shadow:0 1px 4px rgba(0,0,0,.12)}
h1{font-size:1.4rem;margin-top:0}
label{display:block;margin-top:1rem;font-weight:600}
input{width:100%;box-sizing:border-box;padding:.5rem;margin-top:.25rem;font-size:1rem}
button{margin-top:1.5rem;width:100%;padding:.6rem;font-size:1rem;background:#2d5be3;color:#fff;\
border:0;border-radius:4px;cursor:pointer}
.error{color:#b00020;margin:.25rem 0 0;font-size:.9rem}
.alert{background:#fdecee;color:#b00020;padding:.75rem;border-radius:4px}
.hint{color:#555;font-size:.85rem}
";

/// A page with the IdP's stylesheet and CSP, and the security headers of every page.
fn html(status: StatusCode, title: &str, body: &str) -> Response {
    page(
        status,
        title,
        "/auth/style.css",
        CONTENT_SECURITY_POLICY,
        body,
    )
}

/// A page that explains a problem the user cannot fix by retrying the form.
pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    html(
        status,
        title,
        &format!(
            "<h1>{}</h1><p class=\"alert\" role=\"alert\">{}</p>",
            escape(title),
            escape(message)
        ),
    )
}

/// What a form shows again after a failed submission.
#[derive(Debug, Default)]
pub struct FormState<'a> {
    pub email: &'a str,
    pub name: &'a str,
    /// A message about the whole form.
    pub alert: Option<&'a str>,
    /// Messages per field name.
    pub field_errors: Vec<(&'a str, String)>,
}

impl FormState<'_> {
    fn errors_for(&self, field: &str) -> String {
        let mut out = String::new();
        for (name, message) in &self.field_errors {
            if *name == field {
                let _ = write!(
                    out,
                    "<p class=\"error\" id=\"{field}-error\">{}</p>",
                    escape(message)
                );
            }
        }
        out
    }
}

/// The page's heading and, if any, the alert of the last attempt.
fn heading(title: &str, form: &FormState<'_>) -> String {
    let mut body = format!("<h1>{}</h1>", escape(title));
    if let Some(alert) = form.alert {
        let _ = write!(
            body,
            "<p class=\"alert\" role=\"alert\">{}</p>",
            escape(alert)
        );
    }
    body
}

pub fn login_page(status: StatusCode, request_id: &str, form: &FormState<'_>) -> Response {
    let request = escape(request_id);
    let mut body = heading("Sign in", form);
    let _ = write!(
        body,
        "<form method=\"post\" action=\"/auth/login\">\
         <input type=\"hidden\" name=\"request\" value=\"{request}\">\
         <label for=\"email\">Email</label>\
         <input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"username\" required \
         value=\"{email}\">\
         <label for=\"password\">Password</label>\
         <input id=\"password\" name=\"password\" type=\"password\" \
         autocomplete=\"current-password\" required>\
         <button type=\"submit\">Sign in</button></form>\
         <p>New here? <a href=\"/auth/signup?request={request}\">Create an account</a></p>",
        email = escape(form.email),
    );
    html(status, "Sign in", &body)
}

pub fn signup_page(status: StatusCode, request_id: &str, form: &FormState<'_>) -> Response {
    let request = escape(request_id);
    let mut body = heading("Create an account", form);
    let _ = write!(
        body,
        "<form method=\"post\" action=\"/auth/signup\">\
         <input type=\"hidden\" name=\"request\" value=\"{request}\">\
         <label for=\"email\">Email</label>\
         <input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"username\" required \
         value=\"{email}\">{email_errors}\
         <label for=\"name\">Name (printed on your tickets)</label>\
         <input id=\"name\" name=\"name\" autocomplete=\"name\" required value=\"{name}\">\
         {name_errors}\
         <label for=\"password\">Password</label>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" \
         required>{password_errors}\
         <p class=\"hint\">At least {min_length} characters, with an uppercase letter, a lowercase letter, \
         a digit and a symbol.</p>\
         <button type=\"submit\">Create account</button></form>\
         <p>Have an account? <a href=\"/auth/login?request={request}\">Sign in</a></p>",
        email = escape(form.email),
        name = escape(form.name),
        min_length = MIN_PASSWORD_LENGTH,
        email_errors = form.errors_for("email"),
        name_errors = form.errors_for("name"),
        password_errors = form.errors_for("password"),
    );
    html(status, "Create an account", &body)
}
