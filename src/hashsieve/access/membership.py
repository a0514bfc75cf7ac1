"""Who may see which case: a case with members is visible to them and to admins only; a case
without members is open to every user (so a store with no assignments works as before).

Refusals look like absence (the routes answer 404 "no case named ..."), so a reviewer does not
learn the names of the cases kept from them.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select

from hashsieve.access.auth import Principal, UserError
from hashsieve.access.models import CaseMember, User
from hashsieve.store import Store
from hashsieve.store.models import Case


def _user_id(store: Store, username: str) -> int:
    with store.session() as s:
        user_id = s.scalar(select(User.id).where(User.username == username))
    if user_id is None:
        raise UserError(f"no user named {username!r}")
    return user_id


def assign(store: Store, username: str, case_name: str) -> None:
    """Give ``username`` access to ``case_name`` (from then on the case is members-only)."""
    case, user_id = store.get_case(case_name), _user_id(store, username)
    with store.session() as s:
        if s.get(CaseMember, (case.id, user_id)) is None:
            s.add(CaseMember(case_id=case.id, user_id=user_id))


def unassign(store: Store, username: str, case_name: str) -> None:
    """Take ``username`` off ``case_name`` (a case left without members is open to all again)."""
    case, user_id = store.get_case(case_name), _user_id(store, username)
    with store.session() as s:
        s.execute(
            delete(CaseMember).where(
                (CaseMember.case_id == case.id) & (CaseMember.user_id == user_id)
            )
        )


def members(store: Store, case_name: str) -> list[str]:
    case = store.get_case(case_name)
    with store.session() as s:
        return list(
            s.scalars(
                select(User.username)
                .join(CaseMember, CaseMember.user_id == User.id)
                .where(CaseMember.case_id == case.id)
                .order_by(User.username)
            )
        )


def visible_case_ids(store: Store, user: Principal, case_ids: Iterable[int]) -> set[int]:
    """The ids among ``case_ids`` that ``user`` may see."""
    wanted = set(case_ids)
    if user.role == "admin" or not wanted:
        return wanted
    with store.session() as s:
        rows = s.execute(
            select(CaseMember.case_id, CaseMember.user_id).where(CaseMember.case_id.in_(wanted))
        ).all()
    restricted = {case_id for case_id, _ in rows}
    mine = {case_id for case_id, user_id in rows if user_id == user.user_id}
    return (wanted - restricted) | mine


def can_see(store: Store, user: Principal, case: Case) -> bool:
    return case.id in visible_case_ids(store, user, [case.id])


def visible_names(store: Store, user: Principal, names: Iterable[str]) -> set[str]:
    """The case names among ``names`` that ``user`` may see."""
    wanted = set(names)
    with store.session() as s:
        rows = s.execute(select(Case.name, Case.id).where(Case.name.in_(wanted))).all()
    ids = {name: case_id for name, case_id in rows}
    seen = visible_case_ids(store, user, ids.values())
    return {name for name, case_id in ids.items() if case_id in seen}
