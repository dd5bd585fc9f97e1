"""Sending domains: the domains an operator verified, and an organization's own From address.

An organization's emails are From its name. Their *address* is the organization's own
(``platform.tenants.mail_from_address``, set by its owners on the settings page, ``PUT
/api/v1/orgs/{slug}/mail-from``, or by an operator with ``anima mail from``) only when that
address's domain is in ``platform.mail_from_domains`` and verified: an operator added it (``anima
mail domains add``), published the DNS the deployment's mail server needs to send for it (SPF,
DKIM) and marked it verified (``anima mail domains verify``; the deployment cannot see a mail
provider's DKIM set-up, so verification is the operator's confirmation, recorded with its time).
Otherwise the message is From the organization's name with ``ANIMA_MAIL_FROM``'s address and
carries ``Reply-To: <the organization's address>``, so replies still reach the practice and no
message claims a domain that did not allow it (it would be refused or land in spam, DMARC).

:func:`sender` decides the From and Reply-To; :func:`set_org_address` validates and stores an
owner's choice; the operator console lists the domains on its mail page.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from email.utils import parseaddr

import msgspec
import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import String, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from anima.crypto.blind_index import EMAIL_RE
from anima.db.base import PlatformBase, utcnow
from anima.problems import InvalidInput, NotFound


class MailDomain(PlatformBase):
    """A domain organizations may send from once ``verified_at`` is set (lower-case, ASCII/IDNA)."""

    __tablename__ = "mail_from_domains"

    domain: Mapped[str] = mapped_column(String(253), primary_key=True)
    added_at: Mapped[datetime.datetime] = mapped_column(DateTimeUTC(timezone=True), default=utcnow, server_default=func.now())
    verified_at: Mapped[datetime.datetime | None] = mapped_column(DateTimeUTC(timezone=True), nullable=True)


def normalize_domain(raw: str) -> str:
    """``raw`` as a stored domain: trimmed, lower-case, IDNA (punycode). Raises ValueError for
    something that is not a domain name with at least two labels."""
    text = (raw or "").strip().rstrip(".").lower()
    if not text or len(text) > 253 or any(c in text for c in "\x00 @/\\:"):
        raise ValueError("not a domain name")
    try:
        ascii_name = text.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValueError("not a domain name") from exc
    labels = ascii_name.split(".")
    if len(labels) < 2 or not all(0 < len(label) <= 63 and label.replace("-", "").isalnum() and not label.startswith("-")
                                  and not label.endswith("-") for label in labels):
        raise ValueError("not a domain name")
    return ascii_name


def normalize_address(raw: str) -> str:
    """An organization's sending address: trimmed, lower-case, ASCII, an email address. Raises ValueError."""
    address = (raw or "").strip().lower()
    if len(address) > 254 or not address.isascii() or not EMAIL_RE.fullmatch(address):
        raise ValueError("not an email address")
    normalize_domain(address.rpartition("@")[2])
    return address


@dataclass(frozen=True)
class Sender:
    """The From and Reply-To of an organization's message."""

    address: str
    reply_to: str | None


def sender(mail_from: str, org_address: str | None, verified: bool) -> Sender:
    """The address an organization's message is From, and its Reply-To: the organization's own
    address when its domain is verified; else ``ANIMA_MAIL_FROM``'s address, replying to the
    organization's address when it set one."""
    default = parseaddr(mail_from)[1]
    if org_address and verified:
        return Sender(org_address, None)
    return Sender(default, org_address or None)


#: SQL: whether a tenant's address (``t``) has a verified domain (for the senders' claims)
VERIFIED_SQL = ("EXISTS (SELECT 1 FROM platform.mail_from_domains d WHERE d.verified_at IS NOT NULL "
                "AND d.domain = split_part(t.mail_from_address, '@', 2))")


async def is_verified(session: AsyncSession, address: str | None) -> bool:
    """Whether ``address``'s domain is a verified sending domain."""
    if not address:
        return False
    found = await session.execute(sa.select(MailDomain.verified_at).where(MailDomain.domain == address.rpartition("@")[2]))
    return found.scalar_one_or_none() is not None


async def add_domain(session: AsyncSession, raw: str) -> MailDomain:
    """Add a domain (unverified); adding it again changes nothing. Raises ValueError for a bad name."""
    domain = normalize_domain(raw)
    found = await session.get(MailDomain, domain)
    if found is None:
        found = MailDomain(domain=domain, added_at=datetime.datetime.now(datetime.UTC))
        session.add(found)
        await session.flush()
    return found


async def verify_domain(session: AsyncSession, raw: str, *, verified: bool = True) -> MailDomain:
    """Mark a domain verified (or not again). Raises ValueError for a bad name, NotFound when not added."""
    found = await session.get(MailDomain, normalize_domain(raw))
    if found is None:
        raise NotFound("no such sending domain; add it first")
    found.verified_at = datetime.datetime.now(datetime.UTC) if verified else None
    await session.flush()
    return found


async def domains(session: AsyncSession) -> list[MailDomain]:
    """Every sending domain, by name."""
    return list((await session.execute(sa.select(MailDomain).order_by(MailDomain.domain))).scalars())


class MailFromOut(msgspec.Struct):
    """An organization's sending address (null: none set), whether its domain is verified, and what
    its emails then carry: ``from_address`` and ``reply_to``."""

    address: str | None
    domain_verified: bool
    from_address: str
    reply_to: str | None


async def read_org_address(session: AsyncSession, tenant_id: int, mail_from: str) -> MailFromOut:
    """The organization's sending address and its effect (platform session)."""
    address = (await session.execute(sa.text("SELECT mail_from_address FROM platform.tenants WHERE id = :id"),
                                     {"id": tenant_id})).scalar_one_or_none()
    verified = await is_verified(session, address)
    chosen = sender(mail_from, address, verified)
    return MailFromOut(address, verified, chosen.address, chosen.reply_to)


async def set_org_address(session: AsyncSession, tenant_id: int, raw: str | None, mail_from: str) -> MailFromOut:
    """Set (``raw``) or clear (None or empty) the organization's sending address, in the caller's
    platform transaction. Raises InvalidInput naming ``address`` for something not an address."""
    address = None
    if raw is not None and raw.strip():
        try:
            address = normalize_address(raw)
        except ValueError:
            raise InvalidInput("the sending address is not valid", errors=[{
                "field": "address", "rule": "email", "message": "must be an email address such as hola@practice.example"}]) from None
    await session.execute(sa.text("UPDATE platform.tenants SET mail_from_address = :a WHERE id = :id"),
                          {"a": address, "id": tenant_id})
    return await read_org_address(session, tenant_id, mail_from)


__all__ = ["VERIFIED_SQL", "MailDomain", "MailFromOut", "Sender", "add_domain", "domains", "is_verified", "normalize_address",
           "normalize_domain", "read_org_address", "sender", "set_org_address", "verify_domain"]
