"""aisec-radar: crawl arXiv, classify papers into the AI-security threat taxonomy, keep a survey current."""

__version__ = "0.1.0"
