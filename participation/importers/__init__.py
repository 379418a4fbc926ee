"""Readers of participation data published by other platforms (Pabulib, ...)."""
