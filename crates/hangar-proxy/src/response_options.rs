//! `http_options.response`: header edits and `pristine` (reference §6.4).

use hangar_types::HttpResponseOptions;
use hyper::header::{HeaderName, HeaderValue};
use hyper::Response;
use serde_json::Value;

/// Marks a response the proxy must not add its own headers to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pristine;

/// Applies a service's response options to a Machine's response: a string
/// sets a header, a list of strings sets several values, `false` removes it.
pub(crate) fn apply<B>(options: &HttpResponseOptions, response: &mut Response<B>) {
    let headers = response.headers_mut();
    for (name, value) in &options.headers {
        let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else {
            continue;
        };
        match value {
            Value::Bool(false) => {
                headers.remove(&name);
            }
            Value::String(v) => {
                if let Ok(v) = HeaderValue::from_str(v) {
                    headers.insert(name, v);
                }
            }
            Value::Array(values) => {
                headers.remove(&name);
                for v in values.iter().filter_map(Value::as_str) {
                    if let Ok(v) = HeaderValue::from_str(v) {
                        headers.append(name.clone(), v);
                    }
                }
            }
            _ => {}
        }
    }
    if options.pristine == Some(true) {
        response.extensions_mut().insert(Pristine);
    }
}
