"""Every write of the governance app.

Each public function is one transaction that checks the actor's permission, validates, writes
the rows and their history, and appends the ledger entry. API views, admin actions, management
commands and tests all come through here. The modules split the writes by topic:

- complaints:      filing and the handling steps before a decision, and the rating after it
- decisions:       decisions, corrections, appeals and their outcomes
- policy_clauses:  the rule book
- administration:  roles and reference data
- escalation:      missed deadlines
- recording:       the steps every write shares (history stamp, transition, row lock)
"""

from .administration import (
    account_event_record,
    account_lockout_record,
    account_unlock_record,
    complainant_register,
    reference_record_save,
    role_grant,
    role_grant_check,
    role_revoke,
    two_factor_code_issue,
    two_factor_enrol,
    two_factor_start,
)
from .complaints import (
    complaint_acknowledge,
    complaint_assign,
    complaint_close,
    complaint_file,
    complaint_rate,
    complaint_start_investigation,
    complaint_triage,
    complaint_withdraw,
    priority_for,
)
from .decisions import (
    appeal_decide,
    appeal_file,
    decision_record,
)
from .escalation import SLA_STAGES, sla_breaches_escalate
from .policy_clauses import policy_clause_check, policy_clause_publish

__all__ = [
    "SLA_STAGES",
    "account_event_record",
    "account_lockout_record",
    "account_unlock_record",
    "appeal_decide",
    "appeal_file",
    "complainant_register",
    "complaint_acknowledge",
    "complaint_assign",
    "complaint_close",
    "complaint_file",
    "complaint_rate",
    "complaint_start_investigation",
    "complaint_triage",
    "complaint_withdraw",
    "decision_record",
    "policy_clause_check",
    "policy_clause_publish",
    "priority_for",
    "reference_record_save",
    "role_grant",
    "role_grant_check",
    "role_revoke",
    "sla_breaches_escalate",
    "two_factor_code_issue",
    "two_factor_enrol",
    "two_factor_start",
]
