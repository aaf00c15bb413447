"""GET /me: who the token acts as, and in which roles."""

from db.models import OrgUnit
from db.session import reading

from .common import api_user, me, new_blueprint, problems, runtime
from .schemas import MeSchema

blp = new_blueprint("me", "/me", "The token's owner and scope")


@blp.route("")
@blp.response(200, MeSchema)
@problems(blp)
def who_am_i():
    with reading(runtime().session_factory) as session:
        user = me(session)
        return {"id": user.id, "username": user.username, "real_name": user.real_name,
                "unit": session.get(OrgUnit, user.org_unit_id).name, "token_roles": sorted(api_user().roles)}
