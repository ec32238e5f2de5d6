//! Same-origin checks for requests a browser may send on another site's behalf: state
//! changes carried by the session cookie, and the live WebSocket (which browsers open
//! cross-site with cookies and no CORS check).
//!
//! Same origin means the `Origin` header (or, without it, the `Referer`'s origin) names
//! the `host[:port]` the request was sent to (`Host`), or is listed in
//! `HOIST_ALLOWED_ORIGINS`. The scheme is not compared with `Host` because behind a
//! TLS-terminating proxy the server cannot know the public scheme; a cross-site attacker
//! cannot choose the host a victim's browser names in `Origin` anyway.

use axum::http::{HeaderMap, header};

use crate::api_error::ApiError;

/// Ok when the request comes from this server's own pages (or an allowed origin).
///
/// Without `Origin` and `Referer`: Ok unless `require` (a non-browser client, e.g. a
/// script with an API token, sends neither; browsers send `Origin` on every cross-site
/// POST and WebSocket).
pub fn check_same_origin(headers: &HeaderMap, allowed: &[String], require: bool) -> Result<(), ApiError> {
    let origin = match headers.get(header::ORIGIN) {
        Some(value) => {
            let value = value.to_str().map_err(|_| ApiError::Forbidden("unreadable Origin header".into()))?.trim();
            Some(value.to_string())
        }
        None => match headers.get(header::REFERER) {
            Some(value) => {
                let value = value.to_str().map_err(|_| ApiError::Forbidden("unreadable Referer header".into()))?.trim();
                // A Referer that is not a URL cannot show the request came from here.
                Some(origin_of(value).unwrap_or_else(|| value.to_string()))
            }
            None if require => {
                return Err(ApiError::Forbidden(
                    "cross-site request refused: no Origin or Referer header names this site".into(),
                ));
            }
            None => return Ok(()),
        },
    };
    let origin = origin.unwrap_or_default();
    if is_same_origin(&origin, headers, allowed) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!("cross-site request refused: origin {origin:?} is not this site")))
    }
}

fn is_same_origin(origin: &str, headers: &HeaderMap, allowed: &[String]) -> bool {
    // `null` (sandboxed frames, file://, some redirects) is opaque: never same-origin.
    if origin.is_empty() || origin.eq_ignore_ascii_case("null") {
        return false;
    }
    let origin_normalized = normalize(origin);
    if let Some(normalized) = &origin_normalized
        && allowed.iter().any(|a| normalize(a).as_deref() == Some(normalized.as_str()))
    {
        return true;
    }
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else { return false };
    let Ok(url) = url::Url::parse(origin) else { return false };
    let Some(origin_host) = url.host_str() else { return false };
    // host[:port] as the browser sends it in Host: the port only when not the scheme's default.
    let origin_authority = match url.port() {
        Some(port) => format!("{origin_host}:{port}"),
        None => origin_host.to_string(),
    };
    let host = host.trim().to_ascii_lowercase();
    let host = match url.port_or_known_default() {
        // `Host: example.com:443` for an `https://example.com` origin is the same place.
        Some(default) if url.port().is_none() => {
            host.strip_suffix(&format!(":{default}")).map(str::to_string).unwrap_or(host)
        }
        _ => host,
    };
    origin_authority.eq_ignore_ascii_case(&host)
}

/// `scheme://host[:port]` of a URL, without a default port; None if it is not a URL with
/// a host.
fn origin_of(value: &str) -> Option<String> {
    let url = url::Url::parse(value).ok()?;
    let host = url.host_str()?;
    Some(match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    })
}

/// The comparable form of an origin (lowercase, default port dropped, no trailing slash).
fn normalize(origin: &str) -> Option<String> {
    origin_of(origin.trim()).map(|o| o.to_ascii_lowercase())
}

/// Parses `HOIST_ALLOWED_ORIGINS`: comma-separated `scheme://host[:port]`.
pub fn parse_allowed_origins(value: &str) -> Result<Vec<String>, String> {
    let mut origins = vec![];
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let url = url::Url::parse(item).map_err(|e| format!("{item:?} is not an origin ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(format!("{item:?} is not an origin: expected http(s)://host[:port]"));
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
            return Err(format!("{item:?} is not an origin: expected scheme://host[:port] with no path"));
        }
        origins.push(normalize(item).ok_or_else(|| format!("{item:?} is not an origin"))?);
    }
    Ok(origins)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn check(pairs: &[(&'static str, &str)], allowed: &[&str], require: bool) -> Result<(), ApiError> {
        let allowed: Vec<String> = allowed.iter().map(|s| s.to_string()).collect();
        check_same_origin(&headers(pairs), &allowed, require)
    }

    #[test]
    fn same_host_and_port_is_same_origin() {
        assert!(check(&[("host", "127.0.0.1:3000"), ("origin", "http://127.0.0.1:3000")], &[], true).is_ok());
        assert!(check(&[("host", "hoist.example"), ("origin", "https://hoist.example")], &[], true).is_ok());
        assert!(check(&[("host", "Hoist.Example"), ("origin", "https://hoist.example")], &[], true).is_ok());
        assert!(check(&[("host", "hoist.example:443"), ("origin", "https://hoist.example")], &[], true).is_ok());
        // Behind a TLS proxy the server sees http but the browser says https.
        assert!(check(&[("host", "hoist.example"), ("origin", "http://hoist.example")], &[], true).is_ok());
    }

    #[test]
    fn other_hosts_and_ports_are_cross_site() {
        for origin in ["http://evil.example", "http://127.0.0.1:3001", "http://127.0.0.1", "null", "", "garbage"] {
            let err = check(&[("host", "127.0.0.1:3000"), ("origin", origin)], &[], false).unwrap_err();
            match err {
                ApiError::Forbidden(message) => assert!(message.contains(origin), "{message}"),
                other => panic!("{origin}: {other:?}"),
            }
        }
        // A sibling subdomain is another origin.
        assert!(check(&[("host", "hoist.example.com"), ("origin", "https://evil.example.com")], &[], false).is_err());
        assert!(check(&[("host", "hoist.example"), ("origin", "https://hoist.example.evil")], &[], false).is_err());
    }

    #[test]
    fn the_allow_list_admits_listed_origins_only() {
        let allowed = ["https://admin.example", "http://localhost:8080"];
        assert!(check(&[("host", "127.0.0.1:3000"), ("origin", "https://admin.example")], &allowed, true).is_ok());
        assert!(check(&[("host", "127.0.0.1:3000"), ("origin", "https://ADMIN.example:443")], &allowed, true).is_ok());
        assert!(check(&[("host", "127.0.0.1:3000"), ("origin", "http://localhost:8080")], &allowed, true).is_ok());
        assert!(check(&[("host", "127.0.0.1:3000"), ("origin", "http://admin.example")], &allowed, true).is_err());
        assert!(check(&[("host", "127.0.0.1:3000"), ("origin", "http://localhost:8081")], &allowed, true).is_err());
        assert!(check(&[("host", "127.0.0.1:3000"), ("origin", "null")], &["null"], true).is_err());
    }

    #[test]
    fn referer_counts_when_origin_is_missing() {
        assert!(check(&[("host", "h:3000"), ("referer", "http://h:3000/queues?x=1")], &[], true).is_ok());
        assert!(check(&[("host", "h:3000"), ("referer", "http://evil:3000/h:3000")], &[], true).is_err());
        assert!(check(&[("host", "h:3000"), ("referer", "not a url")], &[], true).is_err());
        // Origin wins over Referer.
        let both = [("host", "h:3000"), ("origin", "http://evil"), ("referer", "http://h:3000/")];
        assert!(check(&both, &[], true).is_err());
    }

    #[test]
    fn missing_headers_depend_on_require() {
        assert!(check(&[("host", "h:3000")], &[], false).is_ok());
        assert!(matches!(check(&[("host", "h:3000")], &[], true), Err(ApiError::Forbidden(_))));
        // No Host header: nothing is same-origin.
        assert!(check(&[("origin", "http://h:3000")], &[], false).is_err());
    }

    #[test]
    fn allowed_origins_are_parsed_strictly() {
        assert_eq!(
            parse_allowed_origins(" https://a.example , http://B.example:8080,").unwrap(),
            ["https://a.example", "http://b.example:8080"]
        );
        assert_eq!(parse_allowed_origins("https://a.example:443").unwrap(), ["https://a.example"]);
        assert!(parse_allowed_origins("").unwrap().is_empty());
        for bad in ["a.example", "https://a.example/path", "ftp://a.example", "null", "https://u@a.example"] {
            assert!(parse_allowed_origins(bad).is_err(), "{bad}");
        }
    }
}
