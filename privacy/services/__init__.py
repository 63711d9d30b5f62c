"""Every write of the privacy app. Import services from here: `from privacy import services`."""

from .holds import legal_hold_place, legal_hold_release
from .requests import (
    Completion,
    privacy_export,
    privacy_request_complete,
    privacy_request_file,
    privacy_request_record,
    privacy_request_refuse,
    privacy_request_verify_identity,
    privacy_requests_escalate,
    request_allowed_next,
)
from .restore import ReapplyResult, erasures_reapply
from .retention import (
    RetentionResult,
    retention_enforce,
    retention_rule_check,
    retention_rule_set,
)
from .rotation import keys_rotate
from .subjects import note_create, subject_create, subject_for_user, subject_link_account

__all__ = [
    "Completion",
    "ReapplyResult",
    "RetentionResult",
    "erasures_reapply",
    "keys_rotate",
    "legal_hold_place",
    "legal_hold_release",
    "note_create",
    "privacy_export",
    "privacy_request_complete",
    "privacy_request_file",
    "privacy_request_record",
    "privacy_request_refuse",
    "privacy_request_verify_identity",
    "privacy_requests_escalate",
    "request_allowed_next",
    "retention_enforce",
    "retention_rule_check",
    "retention_rule_set",
    "subject_create",
    "subject_for_user",
    "subject_link_account",
]
