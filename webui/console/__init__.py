"""管理控制台: the administrators' console (issue 9). Only `admin` may open any of it.

One blueprint per section; every one of them refuses non-administrators in `before_request`
(common.admin_only), so no route can be added without the check.
"""

from . import home, instances, people, processes, webhooks

blueprints = (home.bp, processes.bp, instances.bp, people.bp, webhooks.bp)
