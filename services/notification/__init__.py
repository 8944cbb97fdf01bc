"""Notification: participant lists to each city's local committee."""
