"""Code search and code pages (the codes service)."""
