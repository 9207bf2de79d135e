"""Kaspi offers as the last sync saw them: list, re-read, price and availability pushes, and the
competitors' offers of a product on the storefront."""
