"""Crafted XLSX workbooks that cost whoever opens them: made in a blink, never kept as files.

A deflate stream compressed with a full flush after each block repeats itself
block for block, so a part that inflates to a gigabyte is a short block written
a thousand times over: the bombs take milliseconds to make however large they
unpack.  The zip around them is written field by field (zipfile compresses what
it is given, a gigabyte of it at that), and reads back with zipfile as any
workbook does.
"""
import struct
import zlib

SHEET_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELATIONS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="xml" ContentType="application/xml"/></Types>')
WORKBOOK = (f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{SHEET_NS}" xmlns:r="{RELATIONS}">'
            '<sheets><sheet name="peserta" sheetId="1" r:id="rId1"/></sheets></workbook>')
WORKBOOK_RELATIONS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{RELATIONS}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>')
HEADER_SHEET = (f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{SHEET_NS}"><sheetData>'
                '<row r="1"><c r="A1" t="inlineStr"><is><t>full_name</t></is></c>'
                '<c r="B1" t="inlineStr"><is><t>category</t></is></c></row>')


class Part:
    """One part of the zip: its name, raw deflate stream, CRC-32 and size once inflated."""

    def __init__(self, name, head, block=b"", times=0, tail=b""):
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        # After a full flush the compressor starts afresh: the same block compresses the same way every time.
        opening = compressor.compress(head) + compressor.flush(zlib.Z_FULL_FLUSH)
        repeated = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH) if times else b""
        closing = compressor.compress(tail) + compressor.flush()
        self.name = name.encode()
        self.data = opening + repeated * times + closing
        self.size = len(head) + len(block) * times + len(tail)
        crc = zlib.crc32(head)
        for _ in range(times):
            crc = zlib.crc32(block, crc)
        self.crc = zlib.crc32(tail, crc)


def zipped(parts):
    """The zip archive of ``parts`` (deflated, sizes under 4 GB: no zip64 needed)."""
    body, directory = b"", b""
    for part in parts:
        fields = (20, 0, 8, 0, 0x21, part.crc, len(part.data), part.size, len(part.name))
        directory += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, *fields, 0, 0, 0, 0, 0, len(body)) + part.name
        body += struct.pack("<IHHHHHIIIHH", 0x04034B50, *fields, 0) + part.name + part.data
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(parts), len(parts), len(directory), len(body), 0)
    return body + directory + end


def _workbook(*parts):
    return zipped([Part("[Content_Types].xml", CONTENT_TYPES.encode()), Part("xl/workbook.xml", WORKBOOK.encode()),
                   Part("xl/_rels/workbook.xml.rels", WORKBOOK_RELATIONS.encode()), *parts])


def inflating_workbook(megabytes=1024):
    """About 1 MB of XLSX whose sheet inflates to ``megabytes`` MB (spaces between its rows)."""
    return _workbook(Part("xl/worksheets/sheet1.xml", HEADER_SHEET.encode(), b" " * 2**20, megabytes,
                          b"</sheetData></worksheet>"))


def shared_strings_workbook(strings=3_000_000):
    """About 130 KB of XLSX listing ``strings`` shared strings; its sheet is a header alone."""
    per_block = 100_000
    head = (f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{SHEET_NS}" count="{strings}" '
            f'uniqueCount="{strings}">').encode()
    return _workbook(Part("xl/sharedStrings.xml", head, b"<si><t>a</t></si>" * per_block, strings // per_block,
                          b"</sst>"),
                     Part("xl/worksheets/sheet1.xml", (HEADER_SHEET + "</sheetData></worksheet>").encode()))
