"""Who received whose data, and what the coordinator was alerted to."""


def disclosures_of(uow, participant_id: int) -> list[dict]:
    """Every time this participant's data went to someone: when, to whom, by which channel."""
    return [{"delivery_id": record.delivery_id, "rollout_id": delivery.rollout_id, "kind": delivery.kind,
             "recipient": record.recipient, "channel": record.channel, "disclosed_at": record.disclosed_at}
            for record, delivery in uow.disclosures.of_participant(participant_id)]


def alerts(uow, rollout_id: int | None = None) -> list:
    return uow.alerts.list(rollout_id)
