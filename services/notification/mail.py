"""Committee mail: the message, and the channel that carries it.

``SMTP_URL`` chooses the channel: ``smtp://host:port`` (or ``smtps://``) hands
the message to a mail server; ``maildir:///path`` files it in a local Maildir,
which is what a laptop without a mail server gets.
"""
import io
import mailbox
import smtplib
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from urllib.parse import unquote, urlparse

from services.notification.rules import LIST_COLUMNS
from shared.spreadsheets import append_rows, csv_text

XLSX_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
CHANGE_LABELS = {"registered": "baru", "waitlisted": "daftar tunggu", "updated": "diubah",
                 "cancelled": "batal", "promoted": "naik dari daftar tunggu"}


def _list_rows(participants, columns):
    return [list(columns)] + [[person.get(column, "") for column in columns] for person in participants]


def participant_csv(participants, columns=LIST_COLUMNS):
    """The committee's list as CSV; a name typed as ``=HYPERLINK(...)`` stays text (shared.spreadsheets)."""
    return csv_text(_list_rows(participants, columns))


def participant_xlsx(participants, columns=LIST_COLUMNS):
    """The committee's list as a workbook whose text cells are text, never formulas."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "peserta"
    append_rows(sheet, _list_rows(participants, columns))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _message(sender, recipients, subject, body, message_id):
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message["Message-ID"] = message_id
    message["Date"] = formatdate(localtime=False)
    message.set_content(body)
    return message


def _attach(message, rows, columns, stem, list_format):
    if list_format == "xlsx":
        message.add_attachment(participant_xlsx(rows, columns), maintype=XLSX_TYPE[0], subtype=XLSX_TYPE[1],
                               filename=f"{stem}.xlsx")
    else:
        message.add_attachment(participant_csv(rows, columns).encode("utf-8"), maintype="text", subtype="csv",
                               filename=f"{stem}.csv", params={"charset": "utf-8"})


CLOSING = ("Daftar ini berisi data pribadi peserta; mohon digunakan hanya untuk keperluan kegiatan.\n")


def committee_message(sender, recipients, delivery, listing, rows, list_format="csv", ack_url=None,
                      message_id=None, committee_name=None):
    """The mail of one delivery; lists go as an attachment in the committee's format."""
    city = listing["city_name"]
    slug = listing["city"]
    greeting = committee_name or listing.get("committee_name") or "Panitia Lokal"
    count = len(rows)
    kind = delivery.kind
    columns = LIST_COLUMNS
    if kind == "digest":
        columns = LIST_COLUMNS + ("change",)
        rows = [{**r, "change": CHANGE_LABELS.get(r["change"], r["change"])} for r in rows]
        subject = f"Rekap pendaftaran Internet Aman untuk Anak - {city} ({count} perubahan)"
        text = f"Terlampir {count} pendaftaran dan perubahan peserta di {city} sejak rekap terakhir.\n" + CLOSING
        stem = f"rekap-{slug}-{delivery.id}"
    elif kind == "final_list":
        subject = f"Daftar akhir peserta Internet Aman untuk Anak - {city}, hari {delivery.content['day']} " \
                  f"({count} peserta)"
        text = f"Terlampir daftar akhir {count} peserta hari ke-{delivery.content['day']} di {city}.\n" + CLOSING
        stem = f"daftar-akhir-{slug}-hari-{delivery.content['day']}"
    elif kind == "agenda":
        subject = f"Agenda kegiatan Internet Aman untuk Anak - {city}"
        text = agenda_text(delivery.content)
        stem = None
    elif kind == "target_gap":
        gap = delivery.content
        subject = f"Peringatan target peserta - {city}: {gap['category']}"
        text = (f"Sesi {gap['session_key']} pada {gap['session_date']}: baru {gap['registered']} peserta "
                f"kategori {gap['category']} terdaftar dari minimal {gap['minimum']}.\n")
        stem = None
    elif kind == "rollout_cancelled":
        subject = f"Kegiatan Internet Aman untuk Anak di {city} dibatalkan"
        reason = delivery.content.get("reason")
        text = f"Kegiatan Internet Aman untuk Anak di {city} dibatalkan" + (f": {reason}" if reason else "") + ".\n"
        stem = None
    elif kind == "committee_changed":
        subject = f"Alamat panitia Internet Aman untuk Anak - {city} diubah"
        text = committee_changed_text(delivery.content)
        stem = None
    else:
        subject = f"Daftar peserta Internet Aman untuk Anak - {city} ({count} peserta)"
        text = f"Terlampir daftar {count} peserta kegiatan Internet Aman untuk Anak di {city}.\n" + CLOSING
        stem = f"peserta-{slug}"
    body = f"Kepada {greeting},\n\n{text}"
    if ack_url:
        body += f"\nMohon konfirmasi penerimaan dengan membuka tautan ini:\n{ack_url}\n"
    body += "\nSalam,\nTim Internet Aman untuk Anak\n"
    message = _message(sender, recipients, subject, body, message_id)
    if stem:
        _attach(message, rows, columns, stem, list_format)
    return message


def agenda_text(agenda):
    lines = [f"Kegiatan Internet Aman untuk Anak di {agenda['city_name']}, "
             f"{agenda['starts_on']} s.d. {agenda['ends_on']}" + (f", {agenda['venue']}" if agenda.get("venue") else "")
             + ".", ""]
    for session in agenda["sessions"]:
        lines.append(f"Hari {session['day']} ({session['date']}): {session['title']}")
        for topic in session["topics"]:
            people = ", ".join(f"{f['name']} ({f['organisation']})" for f in topic["facilitators"])
            lines.append(f"  - {topic['title']}" + (f": {people}" if people else ""))
    return "\n".join(lines) + "\n"


def committee_changed_text(change):
    """The notice to the previous addresses: who changed where the lists go, when, from what to what."""
    def where(side):
        mails = ", ".join(side.get("emails") or []) or "-"
        return f"surel: {mails}; webhook: {side.get('webhook_url') or '-'}"
    return (f"Alamat penerima daftar peserta kegiatan ini diubah oleh {change['changed_by']} "
            f"pada {change['changed_at']}.\n\n"
            f"Sebelumnya: {where(change['before'])}\n"
            f"Sekarang:   {where(change['after'])}\n\n"
            "Anda menerima pemberitahuan ini karena daftar peserta sebelumnya dikirim ke alamat Anda. "
            "Jika perubahan ini tidak Anda ketahui, segera hubungi koordinator kota.\n")


def participant_list_message(sender, listing, message_id):
    """The whole list of a rollout, to the committee address registration holds."""
    from types import SimpleNamespace

    delivery = SimpleNamespace(kind="participant_list", id=None, content={})
    return committee_message(sender, [listing["committee_email"]], delivery, listing, listing["participants"],
                             message_id=message_id)


def send(smtp_url, message):
    url = urlparse(smtp_url)
    if url.scheme == "maildir":
        path = Path(unquote(url.path))
        path.parent.mkdir(parents=True, exist_ok=True)
        mailbox.Maildir(path, create=True).add(message)
        return
    if url.scheme not in ("smtp", "smtps"):
        raise ValueError(f"SMTP_URL: unsupported scheme {url.scheme!r} (use smtp, smtps or maildir)")
    client = smtplib.SMTP_SSL if url.scheme == "smtps" else smtplib.SMTP
    with client(url.hostname, url.port or (465 if url.scheme == "smtps" else 25), timeout=30) as smtp:
        if url.username:
            smtp.login(unquote(url.username), unquote(url.password or ""))
        smtp.send_message(message)
