"""The proxy pool for storefront lookups: `pool` picks and benches routes at run time (Redis),
`service` and `router` manage the proxies stored per company (or global)."""
