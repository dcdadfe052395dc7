#!/usr/bin/env python3
"""Edits the FILE record of an image the way an attacker who owns the image
would: it names another path, and its device, inode, mode, size and mtime
are those of that path now (anyone can stat a file), so every identity
check that trusts the image passes.  The record checksums (CRC32C, see
doc/image-format.md section 3.1) and the TAIL's stream_bytes are computed
again, so the result is a well-formed image.

    edit_image_file.py IMAGE OUT --path OLD --new-path NEW

OLD is the path the FILE record holds now (exactly); only the first FILE
record with it is edited; exit 1 when none has it.
"""
import argparse
import os
import struct
import sys

HEADER = struct.Struct("<IIQII")	# type, flags, length, checksum, reserved
FILE_FIXED = struct.Struct("<IIIIQQQQQQII")	# struct ckpt_file, 72 bytes
RECORD_FILE = 6
RECORD_TAIL = 12


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def read_records(data):
    """(type, flags, payload, raw bytes) of each record, in stream order."""
    records, at = [], 0
    while at < len(data):
        rtype, flags, length, _checksum, _reserved = HEADER.unpack_from(data, at)
        end = at + HEADER.size + length
        records.append((rtype, flags, data[at + HEADER.size:end], data[at:end]))
        at = end
    return records


def frame(rtype, flags, payload):
    head = struct.pack("<IIQ", rtype, flags, len(payload))
    # Only FILE and TAIL records (checksum over the whole payload) are
    # framed again; the others keep their bytes.
    return head + struct.pack("<II", crc32c(payload, crc32c(head)), 0) + payload


def edited_file(payload, new_path):
    fields = list(FILE_FIXED.unpack_from(payload, 0))
    st = os.stat(new_path)
    path = new_path.encode() + b"\0"
    fields[3] = st.st_mode            # mode
    fields[5] = st.st_dev             # device
    fields[6] = st.st_ino             # inode
    fields[8] = st.st_size            # size
    fields[9] = st.st_mtime_ns        # mtime_ns
    fields[10] = len(path)            # path_length
    return FILE_FIXED.pack(*fields) + path


def file_path(payload):
    length = FILE_FIXED.unpack_from(payload, 0)[10]
    return payload[FILE_FIXED.size:FILE_FIXED.size + length].rstrip(b"\0").decode()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image")
    parser.add_argument("out")
    parser.add_argument("--path", required=True)
    parser.add_argument("--new-path", required=True)
    args = parser.parse_args()
    with open(args.image, "rb") as source:
        data = source.read()
    out, found = bytearray(), False
    for rtype, flags, payload, raw in read_records(data):
        if rtype == RECORD_FILE and not found and file_path(payload) == args.path:
            out += frame(rtype, flags, edited_file(payload, args.new_path))
            found = True
        elif rtype == RECORD_TAIL:
            tail = bytearray(payload)
            struct.pack_into("<Q", tail, 24, len(out))
            out += frame(rtype, flags, bytes(tail))
        else:
            out += raw
    if not found:
        sys.exit("no FILE record holds the path %s" % args.path)
    with open(args.out, "wb") as target:
        target.write(out)


if __name__ == "__main__":
    main()
