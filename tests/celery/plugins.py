"""A handler for the real-worker tests, loaded into the worker with GOVFLOW_HANDLER_MODULES.

`test_stamp` writes one audit event. The first time it runs (no marker file yet) it creates the
marker and then sleeps, so the test can SIGKILL the worker in the middle of the job.
"""

import os
import time
from pathlib import Path

from engine import audit
from handlers.registry import HandlerContext, handler


@handler("test_stamp")
def test_stamp(params: dict, ctx: HandlerContext) -> dict:
    audit.record(ctx.session, now=ctx.now, action="test_stamp", instance_id=ctx.instance_id)
    ctx.session.flush()  # the write lock is held from here until the transaction ends
    marker = Path(os.environ["GOVFLOW_TEST_MARKER"])
    if not marker.exists():
        marker.write_text(str(os.getpid()))
        time.sleep(120)
    return {"stamped": True}
