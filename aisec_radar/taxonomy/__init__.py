"""The taxonomy is data: this package ships the YAML and the loader that validates it."""

from aisec_radar.taxonomy.loader import OUT_OF_TAXONOMY, Taxonomy, TypeDef, load_taxonomy

__all__ = ["OUT_OF_TAXONOMY", "Taxonomy", "TypeDef", "load_taxonomy"]
