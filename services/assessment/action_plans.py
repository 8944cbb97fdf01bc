"""Action plans: what a participant or a group commits to after a session, and how it goes."""
from datetime import datetime, timezone

from services.assessment.commands import Cities, FollowUpActionPlan, RecordActionPlan
from services.assessment.instruments import city_of_rollout
from services.assessment.models import ActionPlan
from services.assessment.repository import AssessmentUnitOfWork
from shared import events
from shared.errors import InvalidInput, NotFound
from shared.pagination import FIRST_PAGE, Page, PageOf


def record_action_plan(command: RecordActionPlan, uow: AssessmentUnitOfWork) -> ActionPlan:
    """A new plan, ``planned``; a participant's must be of that session, a group's session launched."""
    if command.cities is not None and city_of_rollout(uow, command.rollout_id) not in command.cities:
        raise NotFound(f"rollout_id: no launched rollout {command.rollout_id} in your cities", field="rollout_id")
    if command.owner == "participant":
        participant = uow.participants.get(command.participant_code)
        if participant is None:
            raise NotFound(f"participant_code: no participant has code {command.participant_code}",
                           field="participant_code")
        if (participant.rollout_id, participant.session_key) != (command.rollout_id, command.session_key):
            raise InvalidInput("participant_code: the participant does not attend this session",
                               fields={"participant_code": ["not in this session"]})
        city = participant.city
    else:
        known = uow.sessions.get(command.rollout_id, command.session_key)
        if known is None:
            raise NotFound(f"session_key: no launched rollout {command.rollout_id} with session "
                           f"{command.session_key}", field="session_key")
        city = known.city
    plan: ActionPlan = uow.action_plans.add(
        rollout_id=command.rollout_id, session_key=command.session_key, city=city, owner=command.owner,
        participant_code=command.participant_code, group_name=command.group_name,
        commitment=command.commitment, due_on=command.due_on, status="planned", follow_ups=[])
    _emit(uow, events.ACTION_PLAN_RECORDED, plan)
    return plan


def follow_up_action_plan(command: FollowUpActionPlan, uow: AssessmentUnitOfWork) -> ActionPlan:
    """A follow-up: the plan's new status, with an optional note (and a new due date)."""
    plan = get_action_plan(uow, command.action_plan_id, command.cities)
    plan.status = command.status
    if command.due_on is not None:
        plan.due_on = command.due_on
    plan.follow_ups = [*plan.follow_ups, {"at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                          "status": command.status, "note": command.note}]
    uow.action_plans.changed(plan)
    _emit(uow, events.ACTION_PLAN_UPDATED, plan)
    return plan


def _emit(uow: AssessmentUnitOfWork, event: events.Event, plan: ActionPlan) -> None:
    # A participant is named by code only; the commitment and a group's name go into the report.
    uow.emit(event, plan.city, rollout_id=plan.rollout_id, action_plan_id=plan.id, session_key=plan.session_key,
             owner=plan.owner, due_on=plan.due_on, status=plan.status, participant_code=plan.participant_code,
             commitment=plan.commitment, group_name=plan.group_name)


def get_action_plan(uow: AssessmentUnitOfWork, plan_id: int, cities: Cities = None) -> ActionPlan:
    plan: ActionPlan | None = uow.action_plans.get(plan_id)
    if plan is None or (cities is not None and plan.city not in cities):
        raise NotFound(f"action plan {plan_id} does not exist", field="action_plan_id")
    return plan


def list_action_plans(uow: AssessmentUnitOfWork, rollout_id: int | None = None, status: str | None = None,
                      cities: Cities = None, page: Page = FIRST_PAGE) -> PageOf[ActionPlan]:
    found: PageOf[ActionPlan] = uow.action_plans.list(rollout_id=rollout_id, status=status, cities=cities, page=page)
    return found
