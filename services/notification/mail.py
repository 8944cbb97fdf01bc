"""Committee mail: the message, and the channel that carries it.

``SMTP_URL`` chooses the channel: ``smtp://host:port`` (or ``smtps://``) hands
the message to a mail server; ``maildir:///path`` files it in a local Maildir,
which is what a laptop without a mail server gets.
"""
import csv
import io
import mailbox
import smtplib
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from urllib.parse import unquote, urlparse

LIST_COLUMNS = ("code", "full_name", "category", "organisation", "session", "day")


def participant_csv(participants):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=LIST_COLUMNS, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(participants)
    return buffer.getvalue()


def participant_list_message(sender, listing, message_id):
    city = listing["city_name"]
    count = len(listing["participants"])
    message = EmailMessage()
    message["From"] = sender
    message["To"] = listing["committee_email"]
    message["Subject"] = f"Daftar peserta Internet Aman untuk Anak - {city} ({count} peserta)"
    message["Message-ID"] = message_id
    message["Date"] = formatdate(localtime=False)
    greeting = listing.get("committee_name") or "Panitia Lokal"
    message.set_content(
        f"Kepada {greeting},\n\n"
        f"Terlampir daftar {count} peserta kegiatan Internet Aman untuk Anak di {city}.\n"
        "Daftar ini berisi data pribadi peserta; mohon digunakan hanya untuk keperluan kegiatan.\n\n"
        "Salam,\nTim Internet Aman untuk Anak\n"
    )
    message.add_attachment(
        participant_csv(listing["participants"]).encode("utf-8"),
        maintype="text", subtype="csv",
        filename=f"peserta-{listing['city']}.csv",
        params={"charset": "utf-8"},
    )
    return message


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
