"""Kaspi stores: the store, its logins and cabinet session (`service.with_cabinet` is the one way
to call the cabinet as a store), and the sync of its offers."""
