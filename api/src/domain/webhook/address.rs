//! Where webhooks may go. An endpoint on the service's own machine or network would let an
//! admin key probe the inside (SSRF), so deliveries go to globally routable unicast addresses
//! only, unless the server's configuration allows internal ones.
//!
//! Refused: every block of IANA's IPv4 and IPv6 Special-Purpose Address Registries (below,
//! as the registries list them), multicast, and for IPv6 anything outside the global unicast
//! space 2000::/3. An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is judged as the IPv4
//! address it connects to. Every form of address is covered: the URL parser turns decimal,
//! hex and short IPv4 forms (`2130706433`, `0x7f.1`, `127.1`) into the address they name, a
//! literal is checked as it stands, a name by every address it resolves to.
//!
//! The check runs at registration and again at every delivery, under the server's setting at
//! that time: a literal before the request is made, a name in the delivery client's resolver,
//! which hands the connector only the addresses that pass (and the client uses no proxy and
//! follows no redirect, so no other connection is made).
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, OnceLock};

/// IANA IPv4 Special-Purpose Address Registry (iana-ipv4-special-registry, as updated
/// 2024-01), plus the multicast block of the IPv4 Multicast Address Space Registry.
const IPV4_SPECIAL: &[(&str, &str)] = &[
    ("0.0.0.0/8", "\"this network\" (RFC 791)"),
    ("10.0.0.0/8", "private use (RFC 1918)"),
    ("100.64.0.0/10", "shared address space (RFC 6598)"),
    ("127.0.0.0/8", "loopback (RFC 1122)"),
    ("169.254.0.0/16", "link local (RFC 3927)"),
    ("172.16.0.0/12", "private use (RFC 1918)"),
    ("192.0.0.0/24", "IETF protocol assignments (RFC 6890)"),
    ("192.0.2.0/24", "documentation, TEST-NET-1 (RFC 5737)"),
    ("192.31.196.0/24", "AS112-v4 (RFC 7535)"),
    ("192.52.193.0/24", "AMT (RFC 7450)"),
    (
        "192.88.99.0/24",
        "6to4 relay anycast, deprecated (RFC 7526)",
    ),
    ("192.168.0.0/16", "private use (RFC 1918)"),
    (
        "192.175.48.0/24",
        "direct delegation AS112 service (RFC 7534)",
    ),
    ("198.18.0.0/15", "benchmarking (RFC 2544)"),
    ("198.51.100.0/24", "documentation, TEST-NET-2 (RFC 5737)"),
    ("203.0.113.0/24", "documentation, TEST-NET-3 (RFC 5737)"),
    ("224.0.0.0/4", "multicast (RFC 5771)"),
    ("240.0.0.0/4", "reserved (RFC 1112)"),
    ("255.255.255.255/32", "limited broadcast (RFC 8190)"),
];

/// IANA IPv6 Special-Purpose Address Registry (iana-ipv6-special-registry, as updated
/// 2025-03), plus multicast (RFC 4291). Anything outside 2000::/3 is refused besides.
const IPV6_SPECIAL: &[(&str, &str)] = &[
    ("::1/128", "loopback (RFC 4291)"),
    ("::/128", "unspecified (RFC 4291)"),
    ("::ffff:0:0/96", "IPv4-mapped (RFC 4291)"),
    ("64:ff9b::/96", "IPv4-IPv6 translation, NAT64 (RFC 6052)"),
    ("64:ff9b:1::/48", "local IPv4-IPv6 translation (RFC 8215)"),
    ("100::/64", "discard-only (RFC 6666)"),
    ("100:0:0:1::/64", "dummy IPv6 prefix (RFC 9780)"),
    ("2001::/23", "IETF protocol assignments (RFC 2928)"),
    ("2001::/32", "Teredo (RFC 4380)"),
    ("2001:2::/48", "benchmarking (RFC 5180)"),
    ("2001:3::/32", "AMT (RFC 7450)"),
    ("2001:4:112::/48", "AS112-v6 (RFC 7535)"),
    ("2001:10::/28", "ORCHID, deprecated (RFC 4843)"),
    ("2001:20::/28", "ORCHIDv2 (RFC 7343)"),
    ("2001:30::/28", "drone remote ID entity tags (RFC 9374)"),
    ("2001:db8::/32", "documentation (RFC 3849)"),
    ("2002::/16", "6to4 (RFC 3056)"),
    (
        "2620:4f:8000::/48",
        "direct delegation AS112 service (RFC 7534)",
    ),
    ("3fff::/20", "documentation (RFC 9637)"),
    ("5f00::/16", "segment routing SIDs (RFC 9602)"),
    ("fc00::/7", "unique local (RFC 4193)"),
    ("fe80::/10", "link-local unicast (RFC 4291)"),
    ("ff00::/8", "multicast (RFC 4291)"),
];

struct Block<T> {
    network: T,
    length: u32,
    name: &'static str,
}

fn blocks_v4() -> &'static [Block<u32>] {
    static BLOCKS: OnceLock<Vec<Block<u32>>> = OnceLock::new();
    BLOCKS.get_or_init(|| {
        IPV4_SPECIAL
            .iter()
            .filter_map(|(cidr, name)| {
                let (network, length) = cidr.split_once('/')?;
                Some(Block {
                    network: u32::from(network.parse::<Ipv4Addr>().ok()?),
                    length: length.parse().ok()?,
                    name,
                })
            })
            .collect()
    })
}

fn blocks_v6() -> &'static [Block<u128>] {
    static BLOCKS: OnceLock<Vec<Block<u128>>> = OnceLock::new();
    BLOCKS.get_or_init(|| {
        IPV6_SPECIAL
            .iter()
            .filter_map(|(cidr, name)| {
                let (network, length) = cidr.split_once('/')?;
                Some(Block {
                    network: u128::from(network.parse::<Ipv6Addr>().ok()?),
                    length: length.parse().ok()?,
                    name,
                })
            })
            .collect()
    })
}

fn within<T>(address: T, block: &Block<T>, bits: u32) -> bool
where
    T: Copy + std::ops::Shr<u32, Output = T> + PartialEq,
{
    // A zero-length block holds everything; shifting by the full width would overflow.
    block.length == 0 || address >> (bits - block.length) == block.network >> (bits - block.length)
}

/// Why deliveries may not go to `ip`, or `None` when they may.
pub fn refusal(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => {
            let address = u32::from(v4);
            blocks_v4()
                .iter()
                .find(|b| within(address, b, 32))
                .map(|b| b.name)
        }
        IpAddr::V6(v6) => {
            // Connecting to an IPv4-mapped address connects to the IPv4 address.
            if let Some(v4) = v6.to_ipv4_mapped() {
                return refusal(IpAddr::V4(v4));
            }
            let address = u128::from(v6);
            if let Some(block) = blocks_v6().iter().find(|b| within(address, b, 128)) {
                return Some(block.name);
            }
            (address >> 125 != 0b001).then_some("outside the global unicast space 2000::/3")
        }
    }
}

/// Whether deliveries may not go to `ip`.
pub fn is_internal(ip: IpAddr) -> bool {
    refusal(ip).is_some()
}

/// The URL of an endpoint, if deliveries may use it: `https` (or `http`), a host, and a
/// literal address that passes. Names are checked by `check_url` and the delivery client.
fn parse(url: &str, allow_internal: bool) -> Result<reqwest::Url, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| {
        format!("`{url}` is not a URL ({e}): give one such as https://example.org/hooks.")
    })?;
    if !matches!(parsed.scheme(), "https" | "http") {
        return Err("The URL must start with https:// (or http://).".into());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("The URL may not hold a user name or password: authenticate receivers by the signature.".into());
    }
    let literal = match parsed.host() {
        None => return Err("The URL has no host.".into()),
        Some(url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
        Some(url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
        Some(url::Host::Domain(_)) => None,
    };
    if let Some(ip) = literal
        && !allow_internal
        && let Some(why) = refusal(ip)
    {
        return Err(format!(
            "{ip} is an internal address ({why}): webhooks go to public addresses only."
        ));
    }
    Ok(parsed)
}

/// Checks an endpoint's URL at registration: its form, and every address its host is or
/// resolves to. The message says what is wrong, for the user error.
pub async fn check_url(url: &str, allow_internal: bool) -> Result<reqwest::Url, String> {
    let parsed = parse(url, allow_internal)?;
    if let Some(url::Host::Domain(host)) = parsed.host() {
        let port = parsed.port_or_known_default().unwrap_or(443);
        let addresses = resolve(host, port)
            .await
            .map_err(|e| format!("The host `{host}` does not resolve: {e}."))?;
        if !allow_internal
            && let Some((ip, why)) = addresses
                .iter()
                .find_map(|a| refusal(a.ip()).map(|why| (a.ip(), why)))
        {
            return Err(format!(
                "The host `{host}` resolves to {ip}, an internal address ({why}): webhooks go to public addresses only."
            ));
        }
    }
    Ok(parsed)
}

/// Checks an endpoint's URL at delivery, under the server's setting now: its form and a
/// literal address here; the addresses of a name in the client's resolver, as it connects.
pub fn check_delivery(url: &str, allow_internal: bool) -> Result<reqwest::Url, String> {
    parse(url, allow_internal)
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

/// The delivery client: no redirects, no proxy, the given timeout, names resolving to
/// internal addresses refused.
pub fn client(
    timeout: std::time::Duration,
    allow_internal: bool,
) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(PublicResolver { allow_internal }))
        .user_agent(concat!("Stroom-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registries_parse_whole_and_each_block_starts_at_its_boundary() {
        assert_eq!(blocks_v4().len(), IPV4_SPECIAL.len());
        assert_eq!(blocks_v6().len(), IPV6_SPECIAL.len());
        for block in blocks_v4() {
            let host_bits = u32::MAX.checked_shr(block.length).unwrap_or(0);
            assert_eq!(block.network & host_bits, 0, "{}", block.name);
        }
        for block in blocks_v6() {
            let host_bits = u128::MAX.checked_shr(block.length).unwrap_or(0);
            assert_eq!(block.network & host_bits, 0, "{}", block.name);
        }
    }

    /// Addresses in every registered block, at its first, middle and last address, in
    /// both families and every IPv6 form that carries an IPv4 address.
    #[test]
    fn every_special_purpose_block_is_refused_from_start_to_end() {
        for block in blocks_v4() {
            let size = if block.length == 32 {
                0
            } else {
                u32::MAX >> block.length
            };
            for address in [
                block.network,
                block.network + size / 2,
                block.network + size,
            ] {
                let ip = Ipv4Addr::from(address);
                assert!(is_internal(IpAddr::V4(ip)), "{ip} ({})", block.name);
                let mapped = ip.to_ipv6_mapped();
                assert!(is_internal(IpAddr::V6(mapped)), "{mapped}");
            }
        }
        for block in blocks_v6() {
            let size = if block.length == 128 {
                0
            } else {
                u128::MAX >> block.length
            };
            for address in [
                block.network,
                block.network + size / 2,
                block.network + size,
            ] {
                let ip = Ipv6Addr::from(address);
                assert!(is_internal(IpAddr::V6(ip)), "{ip} ({})", block.name);
            }
        }
    }

    #[test]
    fn ipv6_forms_that_embed_an_internal_ipv4_address_are_refused() {
        for ip in [
            "64:ff9b::a9fe:a9fe",                   // NAT64 of 169.254.169.254
            "64:ff9b::7f00:1",                      // NAT64 of 127.0.0.1
            "64:ff9b:1::a00:1",                     // local NAT64
            "2002:7f00:1::1",                       // 6to4 of 127.0.0.1
            "2002:a9fe:a9fe::",                     // 6to4 of the metadata address
            "2001:0:4136:e378:8000:63bf:80ff:fffe", // Teredo of 127.0.0.1
            "::ffff:127.0.0.1",
            "::ffff:a9fe:a9fe",
            "::127.0.0.1",     // IPv4-compatible
            "::ffff:0:7f00:1", // IPv4-translated
            "::",
            "::1",
            "fe80::1",
            "fd00::1",
            "ff02::1",
            "100::1",
            "3fff::1",
            "4000::1", // outside 2000::/3
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip} is internal");
        }
        for ip in [
            "93.184.216.34",
            "1.1.1.1",
            "8.8.8.8",
            "2606:4700:4700::1111",
            "2a00:1450:4001:80b::200e",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip} is public");
        }
    }

    #[tokio::test]
    async fn urls_to_internal_hosts_are_refused_in_every_form_unless_allowed() {
        for url in [
            "http://127.0.0.1:9000/hook",
            "http://127.1/",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://0x7f.0.0.1/",
            "http://0177.0.0.1/",
            "http://017700000001/",
            "http://[::1]/hook",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://[2002:a9fe:a9fe::]/",
            "http://localhost/hook",
            "https://169.254.169.254/latest/meta-data",
            "http://[::ffff:192.168.0.1]/",
            "http://10.0.0.1/",
            "http://0/",
            "http://[fe80::1%25eth0]/",
        ] {
            assert!(check_url(url, false).await.is_err(), "{url} refused");
            if !url.contains("%25") {
                assert!(
                    check_url(url, true).await.is_ok(),
                    "{url} allowed by configuration"
                );
            }
            let literal = reqwest::Url::parse(url)
                .ok()
                .is_some_and(|u| !matches!(u.host(), Some(url::Host::Domain(_))));
            if literal {
                assert!(
                    check_delivery(url, false).is_err(),
                    "{url} refused at delivery"
                );
            }
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
