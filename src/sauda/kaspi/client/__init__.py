"""The Kaspi client: everything that speaks Kaspi's protocol (KASPI.md) and knows nothing of
our use cases. `gateway.KaspiGateway` hands out the clients (cabinet, storefront, JSON and
browser logins) with the shared limits, secrets and pending logins of one process."""
