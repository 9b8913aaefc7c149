"""Fakes of external systems, served over real HTTP on 127.0.0.1 (boundary fakes only)."""
