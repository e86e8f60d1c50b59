"""Confidential content: the only package that reads or writes it.

Content is a supervisor's private session notes and an agreement's shared content
(between-session assignments and the supervisees' responses, goals, evaluations and the limits
of confidentiality). It is stored encrypted (:mod:`luotsi.platform.crypto`), each ciphertext
bound to its tenant, table, row and field. Every function here takes a :class:`Reader` (the
acting membership, the master keys and where the request came from) and checks
:mod:`luotsi.platform.permissions` before it decrypts anything; whoever may not see a piece of
content gets :class:`~luotsi.platform.errors.NotFound`, the answer for what does not exist.
Nothing here logs content; SQL parameters are hidden by the engines (``hide_parameters``).

Every read and write of a piece of content adds an audit row (``content.read`` /
``content.written`` / ``content.deleted`` ..., the object's type and id, the actor, the record
it belongs to, where the request came from; never the text) in the caller's transaction, here
rather than in the callers, so none can forget it.

Modules: :mod:`.models` (tables, :data:`ENCRYPTED_FIELDS`), :mod:`.access` (who may, audit),
:mod:`.notes`, :mod:`.shared`, :mod:`.lifecycle` (rotation, retention), :mod:`.rights`
(export, access history, erasure). Templates get content only from these functions.
"""

from luotsi.tenants.content.access import Reader, clean_text
from luotsi.tenants.content.lifecycle import (
    RotationResult,
    erase_expired_content,
    rotate_keys_all_tenants,
    rotate_tenant_keys,
)
from luotsi.tenants.content.models import (
    ENCRYPTED_FIELDS,
    NOTE_BODY,
    Assignment,
    AssignmentResponse,
    ConfidentialityLimits,
    EncryptedField,
    ErasureRequest,
    ErasureStatus,
    Evaluation,
    Goal,
    GoalSource,
    SessionNote,
)
from luotsi.tenants.content.notes import (
    NOTE_MAX_CHARS,
    NOTE_OBJECT,
    Note,
    clean_note_text,
    count_kept_notes,
    delete_note,
    edit_note,
    export_kept_notes,
    hand_over_notes,
    notes_to_hand_over,
    read_notes,
    write_note,
)
from luotsi.tenants.content.rights import (
    ERASED_NAME,
    AccessHistory,
    ErasurePlan,
    HistoryLine,
    access_history,
    confirm_erasure,
    decline_erasure,
    erasure_plan,
    export_own_data,
    history_lines,
    latest_request_of,
    list_erasure_requests,
    request_erasure,
)
from luotsi.tenants.content.shared import (
    RATINGS,
    AgreementContent,
    AssignmentView,
    EvaluationView,
    GoalView,
    LimitsView,
    ResponseView,
    add_goal,
    agreement_content,
    delete_assignment,
    delete_evaluation,
    delete_goal,
    edit_assignment,
    list_assignments,
    list_goals,
    parse_rating,
    read_limits,
    record_evaluation,
    respond_to_assignment,
    revise_goal,
    set_assignment,
    write_limits,
)

__all__ = [
    "ENCRYPTED_FIELDS",
    "ERASED_NAME",
    "NOTE_BODY",
    "NOTE_MAX_CHARS",
    "NOTE_OBJECT",
    "RATINGS",
    "AccessHistory",
    "AgreementContent",
    "Assignment",
    "AssignmentResponse",
    "AssignmentView",
    "ConfidentialityLimits",
    "EncryptedField",
    "ErasurePlan",
    "ErasureRequest",
    "ErasureStatus",
    "Evaluation",
    "EvaluationView",
    "Goal",
    "GoalSource",
    "GoalView",
    "HistoryLine",
    "LimitsView",
    "Note",
    "Reader",
    "ResponseView",
    "RotationResult",
    "SessionNote",
    "access_history",
    "add_goal",
    "agreement_content",
    "clean_note_text",
    "clean_text",
    "confirm_erasure",
    "count_kept_notes",
    "decline_erasure",
    "delete_assignment",
    "delete_evaluation",
    "delete_goal",
    "delete_note",
    "edit_assignment",
    "edit_note",
    "erase_expired_content",
    "erasure_plan",
    "export_kept_notes",
    "export_own_data",
    "hand_over_notes",
    "history_lines",
    "latest_request_of",
    "list_assignments",
    "list_erasure_requests",
    "list_goals",
    "notes_to_hand_over",
    "parse_rating",
    "read_limits",
    "read_notes",
    "record_evaluation",
    "request_erasure",
    "respond_to_assignment",
    "revise_goal",
    "rotate_keys_all_tenants",
    "rotate_tenant_keys",
    "set_assignment",
    "write_limits",
    "write_note",
]
