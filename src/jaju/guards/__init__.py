"""Guards inspect or rewrite text at a boundary: PII (detection, masking, pseudonymisation)."""
