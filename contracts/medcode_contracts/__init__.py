"""Contracts shared by the services and the gateway.

Service names, RPC method names, RPC payload models, event schemas and error types live
here and nowhere else: a service imports these, never another service's modules.
Everything sent over the broker is `model.model_dump(mode="json")` (JSON primitives
only), so kombu never tags values with `__type__`.
"""
