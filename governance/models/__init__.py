"""Complaints, decisions, appeals, policy clauses, departments, roles: data and data rules only.

Writes happen in `governance.services`; policy-bound reads start from `visible_to(user)`.
"""

from .accounts import AuthenticatorSetupCode
from .complaints import (
    Assignment,
    Complaint,
    ComplaintQuerySet,
    ComplaintTransition,
    Rating,
    SlaBreach,
)
from .decisions import Appeal, AppealQuerySet, Decision, DecisionQuerySet
from .reference import Category, Department, Holiday, PolicyClause, ReferenceCounter, RoleMembership

__all__ = [
    "Appeal",
    "AppealQuerySet",
    "Assignment",
    "AuthenticatorSetupCode",
    "Category",
    "Complaint",
    "ComplaintQuerySet",
    "ComplaintTransition",
    "Decision",
    "DecisionQuerySet",
    "Department",
    "Holiday",
    "PolicyClause",
    "Rating",
    "ReferenceCounter",
    "RoleMembership",
    "SlaBreach",
]
