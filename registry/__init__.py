"""Modelyard: a self-hosted model registry with gated promotion and one-call rollback."""
