"""E-mail: rendering in the recipient's language, and delivery to files or SMTP.

Every e-mail is multipart (plain text + HTML), optionally with attachments: text such as a
calendar invitation (see :func:`calendar_attachment`) or files such as an invoice's PDF (see
:func:`file_attachment`). By default messages are written to
``var/outbox/`` (and shown on the dev mailbox page); with ``LUOTSI_SMTP_HOST`` set they go to
that server. Each message carries a stable Message-ID so a retried delivery can be recognised.
"""

from __future__ import annotations

import asyncio
import base64
import re
import smtplib
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from luotsi.platform import i18n
from luotsi.platform.settings import Settings

_env = Environment(
    loader=PackageLoader("luotsi.platform", "mail_templates"),
    autoescape=select_autoescape(["html"]),
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]


def render_email(template: str, to: str, language: str, **context: Any) -> dict[str, Any]:
    """Render ``<template>.txt`` and ``.html`` in ``language``; returns the outbox payload."""
    with i18n.language(language):
        context = {"language": language, **context}
        text_tpl = _env.get_template(f"{template}.txt")
        subject = "".join(text_tpl.blocks["subject"](text_tpl.new_context(context))).strip()
        text = text_tpl.render(context).strip() + "\n"
        html = _env.get_template(f"{template}.html").render(context)
    return {
        "to": to,
        "subject": subject,
        "text": text,
        "html": html,
        "language": language,
        "message_id": make_msgid(domain="luotsi.localhost"),
    }


def calendar_attachment(ics: str, method: str, filename: str = "invite.ics") -> dict[str, Any]:
    """An ``.ics`` for a payload's ``attachments`` (``method``: REQUEST or CANCEL).

    Kept as text so the outbox payload stays JSON; mail programs recognise an invitation by the
    ``text/calendar; method=...`` content type.
    """
    return {
        "filename": filename,
        "subtype": "calendar",
        "params": {"method": method},
        "text": ics,
    }


def file_attachment(data: bytes, filename: str, mimetype: str) -> dict[str, Any]:
    """A file (``mimetype`` such as ``application/pdf``) for a payload's ``attachments``.

    The bytes travel base64-encoded so the outbox payload stays JSON.
    """
    maintype, subtype = mimetype.split("/", 1)
    return {
        "filename": filename,
        "maintype": maintype,
        "subtype": subtype,
        "base64": base64.b64encode(data).decode("ascii"),
    }


def build_message(payload: dict[str, Any], sender: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = payload["to"]
    msg["Subject"] = payload["subject"]
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = payload["message_id"]
    if payload.get("reply_to"):
        msg["Reply-To"] = payload["reply_to"]
    msg.set_content(payload["text"])
    msg.add_alternative(payload["html"], subtype="html")
    for attachment in payload.get("attachments") or ():
        if "base64" in attachment:
            msg.add_attachment(
                base64.b64decode(attachment["base64"]),
                maintype=attachment["maintype"],
                subtype=attachment["subtype"],
                filename=attachment["filename"],
            )
            continue
        msg.add_attachment(
            attachment["text"],
            subtype=attachment["subtype"],
            filename=attachment["filename"],
            params=attachment.get("params") or {},
        )
    # After the content and attachments: set_content() clears Content-* headers and
    # add_attachment() moves them into the first part.
    msg["Content-Language"] = payload.get("language", "fi")
    return msg


@dataclass
class Mailer:
    settings: Settings

    async def send(self, payload: dict[str, Any]) -> None:
        message = build_message(payload, self.settings.mail_from)
        if self.settings.smtp_enabled:
            await asyncio.to_thread(self._send_smtp, message)
        else:
            self._write_file(message, payload["message_id"])

    def _send_smtp(self, message: EmailMessage) -> None:
        s = self.settings
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=30) as smtp:
            if s.smtp_starttls:
                smtp.starttls()
            if s.smtp_user:
                smtp.login(s.smtp_user, s.smtp_password)
            smtp.send_message(message)

    def _write_file(self, message: EmailMessage, message_id: str) -> None:
        folder = self.settings.outbox_dir
        folder.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9.-]", "_", message_id.strip("<>"))
        path = folder / f"{name}.eml"
        if path.exists():  # a retried delivery of the same message
            return
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(message.as_bytes(policy=policy.SMTP))
        tmp.replace(path)


@dataclass
class MailboxEntry:
    id: str
    to: str
    subject: str
    date: str
    text: str
    html: str
    mtime: float


def read_mailbox(folder: Path, limit: int = 200) -> list[MailboxEntry]:
    """Messages written to the local outbox folder, newest first (the dev mailbox)."""
    if not folder.exists():
        return []
    files = sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True)[:limit]
    return [read_mail_file(p) for p in files]


def read_mail_file(path: Path) -> MailboxEntry:
    msg = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    text_part = msg.get_body(preferencelist=("plain",))
    html_part = msg.get_body(preferencelist=("html",))
    return MailboxEntry(
        id=path.stem,
        to=str(msg["To"]),
        subject=str(msg["Subject"]),
        date=str(msg["Date"]),
        text=text_part.get_content() if text_part else "",
        html=html_part.get_content() if html_part else "",
        mtime=path.stat().st_mtime,
    )
