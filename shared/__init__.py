"""What the four services share: event contracts, configuration, storage, outbox, metrics."""
