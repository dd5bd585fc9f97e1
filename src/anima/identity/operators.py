"""Platform operators: created or promoted from the command line, never through the API."""

from __future__ import annotations

import sqlalchemy as sa

from anima.db.engine import Database
from anima.identity.models import User
from anima.identity.passwords import check_policy, hash_password


async def ensure_operator(db: Database, *, email: str, password: str, display_name: str) -> User:
    """Create the operator ``email`` or set ``is_operator`` on the existing user (password unchanged).

    Raises:
        anima.identity.passwords.WeakPassword: a new operator's password fails the policy.
    """
    email = email.strip().lower()
    async with db.sessionmaker()() as session:
        user = (await session.execute(sa.select(User).where(User.email == email))).scalar_one_or_none()
        if user is None:
            check_policy(password, email=email)
            user = User(email=email, password_hash=hash_password(password), display_name=display_name, is_operator=True)
            session.add(user)
        else:
            user.is_operator = True
        await session.commit()
        return user
