"""Account records the regulations ask for: resets on a written request, leaks, background checks,
new-media password custody.

ACC-4 a lost account or password is reset by the operator only on the unit's written request
(函报): the reset stores the uploaded letter and its number, and the new password must be changed
at the next login. ACC-5 a leak is recorded against the holder's unit (which bears the loss); an
accountability decision follows as a separate record when the leak had adverse effects. ACC-6
(manual) the security background check is declared before a website role is granted
(people.grant_role checks it). ACC-7 (manual) each new-media account names its password keeper,
the dedicated device used to log in and whether mobile logins go through VPN authentication.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import AccountLeak, Asset, BackgroundCheck, MediaCustody, PasswordReset, User
from db.session import reading, transaction

from . import audit
from .attachments import files_dir, store_file
from .exceptions import ConflictError, InvalidInput, NotFound
from .passwords import generate_initial_password, issue_password
from .people import _managed_user, load_admin, managed_unit_ids, require_manages

MAX_TEXT = 2000


def _text(value: str, label: str, label_en: str, *, limit: int = MAX_TEXT) -> str:
    value = (value or "").strip()
    if not value:
        raise InvalidInput(f"请填写{label}。", f"Please fill in {label_en}.")
    if len(value) > limit:
        raise InvalidInput(f"{label}不能超过 {limit} 个字。", f"{label_en} may not exceed {limit} characters.")
    return value


def _date(value, label: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat((value or "").strip())
    except ValueError:
        raise InvalidInput(f"{label}不是有效日期（例如 2026-03-02）。", f"{label} is not a date (e.g. 2026-03-02).") from None


def store_document(rt, filename: str, data: bytes) -> tuple[str, str, str]:
    """Keep an uploaded letter like an attachment (content-addressed, outside the web root).

    Returns (clean file name, content type, sha256)."""
    return store_file(rt, filename, data, empty=("请上传单位的书面申请（函）扫描件。", "Upload the unit's written request."))


# --- ACC-4 ------------------------------------------------------------------------------------

def reset_password(rt, actor_id: int, user_id: int, *, letter_number: str, filename: str, data: bytes,
                   client_addr: str | None = None) -> str:
    """ACC-4: reset on the unit's written request (函报); returns the new password to hand over once.

    The letter (number and scanned document) is required and stored with the reset; the holder
    must change the password at the next login (ACC-2)."""
    letter_number = _text(letter_number, "来函文号", "the letter's number", limit=100)
    name, content_type, digest = store_document(rt, filename, data)
    with transaction(rt.session_factory) as session:
        admin = load_admin(session, actor_id)
        user = _managed_user(session, admin, user_id)
        if not user.active:
            raise ConflictError("此账号已停用，不能重置密码。", "The account is deactivated.")
        password = generate_initial_password()
        issue_password(session, user, password)
        now = rt.clock.now()
        reset = PasswordReset(user_id=user.id, requesting_unit_id=user.org_unit_id, letter_number=letter_number,
                              document_name=name, document_type=content_type, document_size=len(data),
                              document_sha256=digest, reset_by_id=admin.id, reset_at=now)
        session.add(reset)
        session.flush()
        audit.record(session, now=now, action="password_reset", actor=admin, role="admin", opinion=letter_number,
                     org_unit_id=user.org_unit_id, client_addr=client_addr,
                     data={"user": user.username, "reset": reset.id, "letter": letter_number, "document": name,
                           "sha256": digest})
        return password


def open_letter(rt, actor_id: int, reset_id: int) -> tuple[PasswordReset, Path]:
    """The stored letter of a reset, for an administrator of the holder's unit."""
    with reading(rt.session_factory) as session:
        admin = load_admin(session, actor_id)
        reset = session.get(PasswordReset, reset_id)
        if reset is None:
            raise NotFound("重置记录不存在。", "The reset record does not exist.")
        _managed_user(session, admin, reset.user_id)
        path = files_dir(rt) / reset.document_sha256[:2] / reset.document_sha256
        if not path.exists():
            raise NotFound("来函文件已丢失，请联系运维人员。", "The letter's file is missing.")
        return reset, path


# --- ACC-5 ------------------------------------------------------------------------------------

def record_leak(rt, actor_id: int, user_id: int, *, description: str, discovered_on, adverse_effects: bool,
                client_addr: str | None = None) -> int:
    """ACC-5: a leaked account or password, recorded against the holder's unit, which bears the loss.

    The leaked password is void at once: the holder must set a new one at the next login."""
    description = _text(description, "泄露情况", "what leaked and how")
    discovered = _date(discovered_on, "发现日期")
    with transaction(rt.session_factory) as session:
        admin = load_admin(session, actor_id)
        user = _managed_user(session, admin, user_id)
        now = rt.clock.now()
        leak = AccountLeak(user_id=user.id, org_unit_id=user.org_unit_id, discovered_on=discovered,
                           description=description, adverse_effects=bool(adverse_effects), recorded_by_id=admin.id,
                           recorded_at=now)
        session.add(leak)
        user.must_change_password = True
        session.flush()
        audit.record(session, now=now, action="account_leak", actor=admin, role="admin", opinion=description,
                     org_unit_id=user.org_unit_id, client_addr=client_addr,
                     data={"user": user.username, "leak": leak.id, "adverse_effects": bool(adverse_effects)})
        return leak.id


def decide_accountability(rt, actor_id: int, leak_id: int, *, decision: str, client_addr: str | None = None) -> None:
    """ACC-5: the accountability decision on a leak that had adverse effects, recorded once."""
    decision = _text(decision, "问责决定", "the decision")
    with transaction(rt.session_factory) as session:
        admin = load_admin(session, actor_id)
        leak = session.get(AccountLeak, leak_id)
        if leak is None:
            raise NotFound("泄露记录不存在。", "The leak record does not exist.")
        require_manages(session, admin, leak.org_unit_id)
        if not leak.adverse_effects:
            raise ConflictError("此次泄露未登记造成不良影响，无需问责决定（ACC-5）。",
                                "This leak had no recorded adverse effects; no accountability decision applies.")
        if leak.decision:
            raise ConflictError("此泄露已有问责决定。", "This leak already has a decision.")
        now = rt.clock.now()
        leak.decision, leak.decided_by_id, leak.decided_at = decision, admin.id, now
        audit.record(session, now=now, action="leak_accountability", actor=admin, role="admin", opinion=decision,
                     org_unit_id=leak.org_unit_id, client_addr=client_addr, data={"leak": leak.id})


# --- ACC-6 ------------------------------------------------------------------------------------

def record_background_check(rt, actor_id: int, user_id: int, *, checked_on, conducted_by: str, reference: str,
                            client_addr: str | None = None) -> int:
    """ACC-6 (manual): declare that the person passed the security background check."""
    conducted_by = _text(conducted_by, "审查机关", "who conducted it", limit=200)
    reference = _text(reference, "审查文书编号", "the document number", limit=200)
    checked = _date(checked_on, "审查日期")
    with transaction(rt.session_factory) as session:
        admin = load_admin(session, actor_id)
        user = _managed_user(session, admin, user_id)
        if checked > rt.clock.now().date():
            raise InvalidInput("审查日期不能晚于今天。", "The check cannot be dated in the future.")
        now = rt.clock.now()
        row = BackgroundCheck(user_id=user.id, checked_on=checked, conducted_by=conducted_by, reference=reference,
                              recorded_by_id=admin.id, recorded_at=now)
        session.add(row)
        session.flush()
        audit.record(session, now=now, action="background_check", actor=admin, role="admin", opinion=reference,
                     org_unit_id=user.org_unit_id, client_addr=client_addr,
                     data={"user": user.username, "conducted_by": conducted_by, "checked_on": checked.isoformat()})
        return row.id


# --- ACC-7 ------------------------------------------------------------------------------------

def record_custody(rt, actor_id: int, asset_id: int, *, keeper_id: int, device: str, mobile_via_vpn: bool,
                   note: str = "", client_addr: str | None = None) -> int:
    """ACC-7 (manual): the new-media account's designated password keeper (an active person of the
    account's unit), the dedicated login device, and whether mobile logins use VPN authentication.

    A declaration without VPN is recorded as it is and shown as not compliant."""
    device = _text(device, "专用登录设备", "the dedicated device", limit=200)
    with transaction(rt.session_factory) as session:
        admin = load_admin(session, actor_id)
        asset = session.get(Asset, asset_id)
        if asset is None or asset.kind != "new_media":
            raise NotFound("政务新媒体账号不存在。", "The new-media account does not exist.")
        require_manages(session, admin, asset.org_unit_id)
        keeper = session.get(User, keeper_id)
        if keeper is None or not keeper.active or keeper.org_unit_id != asset.org_unit_id:
            raise InvalidInput("密码保管人须是该账号主办单位的在岗人员（ACC-7）。",
                               "The password keeper must be an active member of the account's unit (ACC-7).")
        now = rt.clock.now()
        row = MediaCustody(asset_id=asset.id, keeper_id=keeper.id, device=device, mobile_via_vpn=bool(mobile_via_vpn),
                           note=(note or "").strip() or None, recorded_by_id=admin.id, recorded_at=now)
        session.add(row)
        session.flush()
        audit.record(session, now=now, action="media_custody", actor=admin, role="admin", opinion=row.note,
                     org_unit_id=asset.org_unit_id, client_addr=client_addr,
                     data={"asset": asset.id, "keeper": keeper.username, "device": device,
                           "mobile_via_vpn": bool(mobile_via_vpn)})
        return row.id


def custody_overview(session: Session, admin: User) -> list[tuple[Asset, MediaCustody | None, User | None]]:
    """Each new-media account in the administrator's units with its declaration in force (or None)."""
    units = managed_unit_ids(session, admin)
    rows = []
    for asset in session.scalars(select(Asset).where(Asset.kind == "new_media").order_by(Asset.org_unit_id, Asset.id)):
        if asset.org_unit_id not in units:
            continue
        latest = session.scalar(select(MediaCustody).where(MediaCustody.asset_id == asset.id)
                                .order_by(MediaCustody.id.desc()).limit(1))
        rows.append((asset, latest, session.get(User, latest.keeper_id) if latest else None))
    return rows
