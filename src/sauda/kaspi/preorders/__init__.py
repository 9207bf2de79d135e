"""Kaspi preorders: days until an offer reaches its pickup points, set one by one or from Kaspi's
Excel price list (`excel`), uploaded and confirmed by the worker (`service`)."""
