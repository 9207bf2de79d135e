"""The demper (Kaspi price dumper): `rules` decides a price, `run` runs it over a store's due
offers, `service` keeps its settings, `repository` holds its queries."""
