//! Where webhooks may go. An endpoint on the service's own machine or network (loopback,
//! private, link-local, carrier-grade NAT, unique-local, unspecified, multicast, documentation
//! and benchmark ranges) would let an admin key probe the inside (SSRF): such addresses are
//! refused unless the configuration allows them. The check runs on every address a name
//! resolves to, at registration and again at each delivery (a name may resolve elsewhere by
//! then), and deliveries follow no redirects.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// Whether deliveries may not go to `ip`.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_internal_v4(v4),
            None => is_internal_v6(v6),
        },
    }
}

fn is_internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240 // reserved
}

fn is_internal_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link-local
        || first == 0x2001 && ip.segments()[1] == 0x0db8 // documentation
        || ip.to_ipv4().is_some_and(is_internal_v4) // IPv4-compatible
}

/// Checks an endpoint's URL: `https` (or `http`), a host, and only addresses deliveries may
/// reach. The message says what is wrong, for the user error.
pub async fn check_url(url: &str, allow_internal: bool) -> Result<reqwest::Url, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| {
        format!("`{url}` is not a URL ({e}): give one such as https://example.org/hooks.")
    })?;
    if !matches!(parsed.scheme(), "https" | "http") {
        return Err("The URL must start with https:// (or http://).".into());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("The URL may not hold a user name or password: authenticate receivers by the signature.".into());
    }
    let Some(host) = parsed.host_str() else {
        return Err("The URL has no host.".into());
    };
    let port = parsed.port_or_known_default().unwrap_or(443);
    let addresses = resolve(host, port)
        .await
        .map_err(|e| format!("The host `{host}` does not resolve: {e}."))?;
    if !allow_internal && let Some(ip) = addresses.iter().find(|a| is_internal(a.ip())) {
        return Err(format!(
            "The host `{host}` resolves to {}, an internal address: webhooks go to public addresses only.",
            ip.ip()
        ));
    }
    Ok(parsed)
}

async fn resolve(host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host, port)).await?.collect();
    if addresses.is_empty() {
        return Err(std::io::Error::other("no addresses"));
    }
    Ok(addresses)
}

/// The resolver of the delivery client: the system's, with internal addresses left out (a
/// name that resolves only to them fails to connect).
pub struct PublicResolver {
    pub allow_internal: bool,
}

impl reqwest::dns::Resolve for PublicResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_internal = self.allow_internal;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found = resolve(&host, 0).await?;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| allow_internal || !is_internal(a.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(format!("{host} resolves to internal addresses only").into());
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The delivery client: no redirects, the given timeout, internal addresses refused.
pub fn client(
    timeout: std::time::Duration,
    allow_internal: bool,
) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(PublicResolver { allow_internal }))
        .user_agent(concat!("Stroom-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_of_every_kind_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "198.18.0.1",
            "240.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "2001:db8::1",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip} is internal");
        }
        for ip in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip} is public");
        }
    }

    #[tokio::test]
    async fn urls_to_internal_hosts_are_refused_unless_allowed() {
        for url in [
            "http://127.0.0.1:9000/hook",
            "http://[::1]/hook",
            "http://localhost/hook",
            "https://169.254.169.254/latest/meta-data",
            "http://[::ffff:192.168.0.1]/",
            "http://10.0.0.1/",
        ] {
            assert!(check_url(url, false).await.is_err(), "{url} refused");
            assert!(
                check_url(url, true).await.is_ok(),
                "{url} allowed by configuration"
            );
        }
        for url in [
            "ftp://example.org/",
            "not a url",
            "https://user:pw@example.org/",
        ] {
            assert!(check_url(url, true).await.is_err(), "{url} refused");
        }
    }
}
