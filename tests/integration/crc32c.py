"""crc32c.py: CRC-32C as formats/README.md defines it (the bitwise
reference), for the integration scripts' Python that writes or checks
evtape files."""


def crc32c(b):
    """CRC-32C of the bytes b."""
    c = 0xFFFFFFFF
    for x in b:
        c ^= x
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 & -(c & 1))
    return c ^ 0xFFFFFFFF
