"""Code search: one query planner, two engines (embedded tantivy, Elasticsearch).

The planner (`planner.py`) turns what a coder types into an engine-neutral plan; each
backend (`embedded.py`, `elastic.py`) implements `SearchBackend` below, so both pass the
same behaviour suite (tests/unit/search_behaviour.py).
"""
