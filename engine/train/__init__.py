"""Training and evaluation pipelines that write model bundles."""
