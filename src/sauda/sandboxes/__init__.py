"""Local stand-ins of outside systems, for demos, tests and benchmarks: no domain code here.

- `kaspi`: Kaspi.kz's login, merchant cabinet and storefront (`sauda kaspi-sandbox`).
"""
