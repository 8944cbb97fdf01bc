"""The words of the API's values (states, categories, kinds...) as a page shows them, in either language.

``N_`` marks each for the catalogue (pybabel extracts it); ``label`` translates it where it is shown.
A value the console does not know yet is shown as it is.
"""
from services.console import render


def N_(message: str) -> str:
    """Marks ``message`` for the catalogue; it is translated where it is shown."""
    return message


LABELS = {
    "rollout": {"draft": N_("draft"), "launched": N_("launched"), "running": N_("running"),
                "completed": N_("completed"), "cancelled": N_("cancelled")},
    "participant": {"registered": N_("registered"), "waitlisted": N_("waitlisted"), "cancelled": N_("cancelled")},
    "category": {"educator": N_("Educators"), "skpd": N_("SKPD (local government)"),
                 "patbm": N_("PATBM (community groups)"), "unit_ppa": N_("Unit PPA (police unit)"),
                 "lsm": N_("LSM (NGOs)"), "forum_anak": N_("Forum Anak (children's forum)"),
                 "student": N_("Students")},
    "delivery": {"queued": N_("queued"), "sent": N_("sent"), "acknowledged": N_("acknowledged"),
                 "failed": N_("failed")},
    "kind": {"agenda": N_("agenda"), "digest": N_("digest of registrations"),
             "participant_list": N_("participant list"), "final_list": N_("final list"),
             "target_gap": N_("target gap"), "rollout_cancelled": N_("rollout cancelled"),
             "committee_changed": N_("committee changed")},
    "channel": {"mail": N_("e-mail"), "webhook": N_("webhook")},
    "job": {"queued": N_("waiting for the import worker"), "running": N_("being read"),
            "succeeded": N_("imported"), "failed": N_("not imported")},
    "role": {"national_coordinator": N_("national coordinator"), "city_coordinator": N_("city coordinator"),
             "committee_member": N_("committee member"), "partner": N_("partner"), "operator": N_("operator")},
    "step": {"launch": N_("Launch"), "start": N_("Start"), "complete": N_("Complete"),
             "close-registration": N_("Close registration"), "cancel": N_("Cancel the rollout")},
    "detail": {"province": N_("Province"), "venue": N_("Venue"), "committee_name": N_("Committee name"),
               "committee_email": N_("Committee e-mail"), "organisation": N_("Organisation (the report's cover)"),
               "author": N_("Report author"), "editor": N_("Report editor")},
    "section": {"background": N_("Background"), "aims": N_("Aims"),
                "expected_learning": N_("What participants are expected to learn"), "tips": N_("Internet-safety tips"),
                "findings": N_("Findings"), "recommendations": N_("Recommendations"), "follow_up": N_("Follow-up")},
    "plan": {"planned": N_("planned"), "in_progress": N_("in progress"), "done": N_("done"),
             "dropped": N_("dropped")},
    "audit": {"listed": N_("listed the participants"), "shown": N_("showed a participant"),
              "exported": N_("took the committee list"), "purged": N_("purged the personal data")},
}


def label(kind: str, value: object, lang: str) -> str:
    known = LABELS.get(kind, {}).get(str(value))
    return render.gettext(lang, known) if known else str(value)
