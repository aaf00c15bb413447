"""The engine's error hierarchy.

Every message is a sentence a civil servant can read (Simplified Chinese); `message_en`
carries the English wording for the English UI. `retryable` says whether trying the same
command again could succeed (a lost race may; a refused diagram never will).
"""


class GovFlowError(Exception):
    """Base of every error the engine raises on purpose."""

    retryable = False

    def __init__(self, message: str, message_en: str | None = None):
        super().__init__(message)
        self.message = message
        self.message_en = message_en or message

    def localized(self, lang: str) -> str:
        return self.message_en if lang == "en" else self.message


class DeploymentRejected(GovFlowError):
    """A diagram failed validation; nothing was deployed."""

    def __init__(self, message: str, message_en: str | None = None, element_id: str | None = None):
        super().__init__(message, message_en)
        self.element_id = element_id


class ExpressionRejected(GovFlowError):
    """An expression uses something outside the allow-list."""


class ExpressionFailed(GovFlowError):
    """An allowed expression could not be evaluated (unknown name, bad arguments…)."""


class NotFound(GovFlowError):
    """The task, instance, definition or user does not exist."""


class Forbidden(GovFlowError):
    """The actor may not perform this action."""


class SeparationOfDutiesViolation(Forbidden):
    """REV-3: the actor already acted in another lane of the same item."""


class InvalidInput(GovFlowError):
    """Submitted form data is missing, malformed or not allowed."""


class ConflictError(GovFlowError):
    """Someone else changed the item first; nothing was changed. Worth reloading and retrying.

    `details` says what happened instead, for machines (the API's 409 names who completed the task
    and when)."""

    retryable = True

    def __init__(self, message: str, message_en: str | None = None, details: dict | None = None):
        super().__init__(message, message_en)
        self.details = details or {}


class HandlerFailed(GovFlowError):
    """A service-task handler raised; the command was rolled back."""

    retryable = True


class RateLimited(GovFlowError):
    """Too many attempts for one key (a login name, an address, a token) in a short time."""

    retryable = True

    def __init__(self, message: str, message_en: str | None = None, retry_after: int = 60):
        super().__init__(message, message_en)
        self.retry_after = retry_after
