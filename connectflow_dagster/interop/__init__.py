"""Interoperability with other tools' workflow formats (engine layer: no gateway or UI imports)."""
