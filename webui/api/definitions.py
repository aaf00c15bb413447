"""Process definitions: list the deployed ones, read one's versions, deploy a new version."""

from flask import request
from sqlalchemy import select

from db.models import ProcessDefinition
from db.session import reading
from engine import Forbidden, NotFound, deploy
from engine.versions import is_top_admin

from .common import api_user, me, new_blueprint, problems, runtime
from .schemas import DefinitionSchema, DeployBodySchema, DeployResultSchema
from .security import require_scope
from .starters import STARTERS

blp = new_blueprint("definitions", "/definitions", "Process definitions (BPMN) and their versions")


def _view(row: ProcessDefinition) -> dict:
    return {"key": row.key, "name": row.name, "version": row.version, "sha256": row.sha256,
            "deployed_by": row.deployed_by, "deployed_at": row.deployed_at, "start_role": row.start_role,
            "api_start": row.key in STARTERS}


@blp.route("")
@blp.response(200, DefinitionSchema(many=True))
@problems(blp)
def list_definitions():
    """The newest version of every deployed process."""
    with reading(runtime().session_factory) as session:
        newest: dict[str, ProcessDefinition] = {}
        for row in session.scalars(select(ProcessDefinition).order_by(ProcessDefinition.key, ProcessDefinition.version)):
            newest[row.key] = row
        return [_view(row) for row in newest.values()]


@blp.route("/<string:key>")
@blp.response(200, DefinitionSchema(many=True))
@problems(blp, 404)
def versions(key: str):
    """Every version of one process, newest first."""
    with reading(runtime().session_factory) as session:
        rows = list(session.scalars(select(ProcessDefinition).where(ProcessDefinition.key == key)
                                    .order_by(ProcessDefinition.version.desc())))
        if not rows:
            raise NotFound(f"流程“{key}”尚未部署。", f"Process \"{key}\" has not been deployed.")
        return [_view(row) for row in rows]


@blp.route("", methods=["POST"])
@blp.arguments(DeployBodySchema)
@blp.response(201, DeployResultSchema)
@problems(blp, 400, 403, 422)
def deploy_definition(body):
    """Validate and deploy a BPMN diagram as the next version of its process (top-level administrators).
    A refused diagram answers 400 with the one sentence that names the element."""
    require_scope("admin", "部署流程", "deploy processes")
    rt = runtime()
    with reading(rt.session_factory) as session:
        user = me(session)
        if not is_top_admin(session, user):
            raise Forbidden("只有最上级单位的系统管理员可以部署流程。", "Only a top-level administrator may deploy processes.")
        username = user.username
    result = deploy(rt, body["bpmn_xml"].encode("utf-8"), deployed_by=username, note=body["note"],
                    actor=api_user().user_id, client_addr=request.remote_addr)
    return {"key": result.key, "version": result.version, "created": result.created}


