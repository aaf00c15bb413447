"""All models, imported here so `Base.metadata` knows every table (Alembic reads it)."""

from .admin import AccountLeak, BackgroundCheck, MediaCustody, PasswordReset, ProcessDraft
from .api import ApiToken, RateLimitBucket, Webhook, WebhookDelivery
from .assets import (
    ACTIVE_STATES,
    ASSET_KINDS,
    ASSET_STATES,
    PLATFORMS,
    VIOLATION_TYPES,
    Asset,
    AssetEvent,
    Violation,
)
from .attachment import Attachment
from .audit import AuditEvent
from .base import Base, UTCDateTime
from .calendar import OVERRIDE_KINDS, CalendarOverride
from .content import CONTENT_MODES, CONTENT_STATUSES, TARGET_KINDS, ContentItem
from .inbox import StandIn, TaskCopy
from .jobs import NOTIFICATION_KINDS, Incident, Notification, ServiceJob
from .operations import (
    MESSAGE_STATUSES,
    MESSAGE_TYPES,
    ApprovalForm,
    CitizenMessage,
    DutyReading,
    DutyRoster,
)
from .org import LEVELS, ROLES, OrgUnit, RoleGrant, User
from .process import DEADLINE_RULES, Deadline, HumanTask, ProcessDefinition, ProcessInstance, WorkflowTask
from .review import ContentVersion, SignOff
from .supervision import (
    EVALUATION_GRADES,
    SECURITY_RECORD_KINDS,
    VENDOR_STATES,
    Evaluation,
    PeriodicItem,
    PeriodicRun,
    SecurityRecord,
    UpdateRecord,
    Vendor,
    ViolationCircular,
    ViolationCircularItem,
)

__all__ = [
    "ApiToken", "RateLimitBucket", "Webhook", "WebhookDelivery",
    "Attachment",
    "ACTIVE_STATES", "ASSET_KINDS", "ASSET_STATES", "PLATFORMS", "VIOLATION_TYPES", "Asset", "AssetEvent", "Violation",
    "AuditEvent", "Base", "CalendarOverride", "DEADLINE_RULES", "Deadline", "OVERRIDE_KINDS", "CONTENT_STATUSES", "ContentItem", "HumanTask", "Incident", "NOTIFICATION_KINDS", "Notification", "ServiceJob", "LEVELS", "OrgUnit",
    "ProcessDefinition", "ProcessInstance", "WorkflowTask", "ROLES", "RoleGrant", "TARGET_KINDS", "User", "UTCDateTime",
    "ApprovalForm", "CONTENT_MODES", "CitizenMessage", "DutyReading", "DutyRoster", "MESSAGE_STATUSES", "MESSAGE_TYPES",
    "EVALUATION_GRADES", "SECURITY_RECORD_KINDS", "VENDOR_STATES", "Evaluation", "PeriodicItem", "PeriodicRun",
    "SecurityRecord", "UpdateRecord", "Vendor", "ViolationCircular", "ViolationCircularItem",
    "AccountLeak", "BackgroundCheck", "MediaCustody", "PasswordReset", "ProcessDraft",
    "ContentVersion", "SignOff", "StandIn", "TaskCopy",
]
