//! Which app a request is for.

use hyper::Request;

use crate::routes::RouteTable;

/// The app serving `host`: a custom domain of the route table, else
/// `<app>.<app_domain>`.
pub(crate) fn app_of_host(host: &str, app_domain: &str, table: &RouteTable) -> Option<String> {
    let name = strip_port(host).trim_end_matches('.').to_ascii_lowercase();
    if let Some(app) = table.custom_domains.get(&name) {
        return Some(app.clone());
    }
    app_for_host(&name, app_domain)
}

/// The app a Host names when it is `<app>.<app_domain>` (any port, any case).
pub(crate) fn app_for_host(host: &str, app_domain: &str) -> Option<String> {
    let host = strip_port(host).trim_end_matches('.').to_ascii_lowercase();
    let domain = app_domain.trim_end_matches('.').to_ascii_lowercase();
    let app = host.strip_suffix(&domain)?.strip_suffix('.')?;
    (!app.is_empty()).then(|| app.to_string())
}

/// The host a request is for: the Host header, or the URI authority (h2).
pub(crate) fn request_host<B>(request: &Request<B>) -> String {
    request
        .headers()
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| request.uri().authority().map(|a| a.to_string()))
        .unwrap_or_default()
}

/// `host:port` → `host`, leaving IPv6 literals whole.
pub(crate) fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host
            .split_once(']')
            .map_or(host, |(h, _)| &host[..h.len() + 1]);
    }
    host.split_once(':').map_or(host, |(h, _)| h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_is_the_label_before_the_domain() {
        assert_eq!(
            app_for_host("web.localhost", "localhost").as_deref(),
            Some("web")
        );
        assert_eq!(
            app_for_host("WEB.Localhost:8080", "localhost").as_deref(),
            Some("web")
        );
        assert_eq!(
            app_for_host("web.apps.example.com.", "apps.example.com").as_deref(),
            Some("web")
        );
        assert_eq!(app_for_host("localhost", "localhost"), None);
        assert_eq!(app_for_host("weblocalhost", "localhost"), None);
        assert_eq!(app_for_host("web.example.com", "localhost"), None);
        assert_eq!(app_for_host("", "localhost"), None);
    }

    #[test]
    fn custom_domains_name_their_app() {
        let mut table = RouteTable::default();
        table
            .custom_domains
            .insert("shop.example.com".into(), "web".into());
        assert_eq!(
            app_of_host("Shop.Example.com:443", "localhost", &table).as_deref(),
            Some("web")
        );
        assert_eq!(
            app_of_host("api.localhost", "localhost", &table).as_deref(),
            Some("api")
        );
        assert_eq!(app_of_host("other.example.com", "localhost", &table), None);
    }

    #[test]
    fn ports_are_stripped_but_ipv6_literals_kept() {
        assert_eq!(strip_port("a.localhost:80"), "a.localhost");
        assert_eq!(strip_port("a.localhost"), "a.localhost");
        assert_eq!(strip_port("[::1]:8080"), "[::1]");
        assert_eq!(strip_port("[::1]"), "[::1]");
    }
}
