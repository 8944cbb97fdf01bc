"""Reporting: read models built from events, activity reports, public summaries."""
