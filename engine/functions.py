"""The functions a diagram's expressions may call (the allow-list's vocabulary).

Timer expressions must yield ISO-8601 text for SpiffWorkflow, so these return ISO strings
with the +08:00 offset (a naive string would take the server's zone; ENGINE_NOTES.md). Inside
a command the vocabulary comes from the command's DeadlineRecorder (calendar overrides,
provenance of each timer); this module-level table, on the bundled calendar, is what deploy
checks a timer against. Besides these functions an expression may read `now` (alias `start`):
the instant, as ISO text, of the command that evaluates it.
"""

from .calendar import calendar_for
from .deadlines import DeadlineRecorder

EXPRESSION_FUNCTIONS = DeadlineRecorder(calendar_for).functions()
