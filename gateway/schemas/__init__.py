"""Request and response models, one module per resource.

Each resource has a family: ``XCreate`` / ``XUpdate`` (request bodies, unknown fields rejected),
``XPublic`` (one object as returned) and ``XsPublic`` (a page: ``data`` and the total ``count``).
"""
