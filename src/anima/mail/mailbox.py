"""The local mailbox: where emails go when no ``SMTP_URL`` is set.

Each sent message is written as an RFC 5322 file ``ANIMA_DATA_DIR/mailbox/<email id>.eml``
(written to a temporary name, then renamed, so a reader never sees half a message; mode 0600).
:func:`messages` lists them newest first and :func:`read` opens one, for the development page
``/dev/mailbox`` (:mod:`anima.mail.pages`) — so that a newcomer running ``anima demo`` can open an
invitation and follow its link without any mail server. :func:`prune` deletes messages older than
:data:`KEEP` (the mail job calls it each run while the mailbox is in use).
"""

from __future__ import annotations

import datetime
import email.policy
import os
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path

from anima.config import Settings


def directory(settings: Settings) -> Path:
    """``ANIMA_DATA_DIR/mailbox``."""
    return settings.data_dir / "mailbox"


def deliver(settings: Settings, email_id: uuid.UUID, message: EmailMessage) -> Path:
    """Write ``message`` as ``<email_id>.eml`` (atomically; a second delivery replaces the first)."""
    folder = directory(settings)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{email_id}.eml"
    partial = folder / f".{email_id}.{os.getpid()}.tmp"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(message.as_bytes(policy=email.policy.SMTP))
    os.replace(partial, target)
    return target


@dataclass(frozen=True)
class MailboxMessage:
    """One message of the local mailbox."""

    id: uuid.UUID
    sender: str
    recipient: str
    subject: str
    date: datetime.datetime
    body: str
    #: the HTML part, if any (shown only inside a sandboxed frame: :mod:`anima.mail.pages`)
    html: str | None = None
    #: the attachments: (file name, content type, size in bytes)
    attachments: tuple[tuple[str, str, int], ...] = ()


def _load(path: Path, email_id: uuid.UUID) -> MailboxMessage:
    parsed = BytesParser(policy=email.policy.default).parsebytes(path.read_bytes())
    try:
        date = parsedate_to_datetime(str(parsed["Date"]))
    except (TypeError, ValueError):
        date = datetime.datetime.fromtimestamp(path.stat().st_mtime, datetime.UTC)
    if date.tzinfo is None:
        date = date.replace(tzinfo=datetime.UTC)
    part = parsed.get_body(preferencelist=("plain",))
    body = part.get_content() if part is not None else ""
    html_part = parsed.get_body(preferencelist=("html",))
    html = html_part.get_content() if html_part is not None else None
    attachments = []
    for attached in parsed.iter_attachments():
        payload = attached.get_payload(decode=True) or b""
        attachments.append((attached.get_filename() or "", attached.get_content_type(), len(payload)))
    return MailboxMessage(
        id=email_id, sender=str(parsed["From"] or ""), recipient=str(parsed["To"] or ""),
        subject=str(parsed["Subject"] or ""), date=date, body=body, html=html, attachments=tuple(attachments),
    )


def messages(settings: Settings, *, limit: int = 200) -> list[MailboxMessage]:
    """The mailbox's messages, newest first (at most ``limit``)."""
    folder = directory(settings)
    if not folder.is_dir():
        return []
    found: list[tuple[datetime.datetime, int, MailboxMessage]] = []
    for path in folder.glob("*.eml"):
        try:
            message = _load(path, uuid.UUID(path.stem))
            found.append((message.date, path.stat().st_mtime_ns, message))
        except (ValueError, OSError):
            continue  # not one of ours, or removed meanwhile
    found.sort(key=lambda item: item[:2], reverse=True)
    return [message for _, _, message in found[:limit]]


#: how long the local mailbox keeps a message (the worker prunes older ones)
KEEP = datetime.timedelta(days=14)


def prune(settings: Settings, *, older_than: datetime.timedelta = KEEP, now: datetime.datetime | None = None) -> int:
    """Delete the mailbox's ``.eml`` files (and left-over temporary files) last written more than
    ``older_than`` ago; returns how many. Files that are not ours are left alone."""
    folder = directory(settings)
    if not folder.is_dir():
        return 0
    limit = ((now or datetime.datetime.now(datetime.UTC)) - older_than).timestamp()
    removed = 0
    for path in [*folder.glob("*.eml"), *folder.glob(".*.tmp")]:
        try:
            if path.suffix == ".eml":
                uuid.UUID(path.stem)
            if path.stat().st_mtime < limit:
                path.unlink()
                removed += 1
        except (ValueError, OSError):
            continue  # not one of ours, or removed meanwhile
    return removed


def read(settings: Settings, email_id: uuid.UUID) -> MailboxMessage | None:
    """The message ``email_id``, or None when the mailbox does not hold it."""
    path = directory(settings) / f"{email_id}.eml"
    try:
        return _load(path, email_id)
    except (OSError, ValueError):
        return None
