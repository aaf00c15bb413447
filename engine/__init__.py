"""GovFlow's workflow engine: the only package that imports SpiffWorkflow.

Callers (the web UI, the CLI, Celery jobs) use these functions; each command is one
transaction. See ../shared/DESIGN.md.
"""

from . import annual, monitoring, security, violations  # noqa: F401  (issue 7's task forms and periodic duties)
from . import assets as _assets  # noqa: F401  (registers the asset processes' task forms)
from . import messages as _messages  # noqa: F401  (registers the citizen-message and reply forms)
from . import opinion as _opinion  # noqa: F401  (registers the 舆情 forms)
from . import supervision as _supervision  # noqa: F401  (SUP-1/SUP-2 forms and handlers)
from .accounts import authenticate
from .clock import Clock, ManualClock
from .commands import Actor, cancel_instance, claim_task, complete_task, return_task, start_process
from .content import submit_content
from .demo import seed_demo
from .deploy import check_diagram, deploy, deploy_directory
from .exceptions import (
    ConflictError,
    DeploymentRejected,
    Forbidden,
    GovFlowError,
    InvalidInput,
    NotFound,
    RateLimited,
    SeparationOfDutiesViolation,
)
from .runtime import Runtime, make_runtime

__all__ = [
    "Actor", "Clock", "ConflictError", "DeploymentRejected", "Forbidden", "GovFlowError", "InvalidInput",
    "ManualClock", "NotFound", "RateLimited", "Runtime", "SeparationOfDutiesViolation", "authenticate", "cancel_instance",
    "check_diagram", "claim_task", "complete_task", "deploy", "deploy_directory", "make_runtime",
    "return_task", "seed_demo", "start_process", "submit_content",
]
