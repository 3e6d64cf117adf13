"""crc32c.py: CRC-32C (Castagnoli, reflected, as formats/README.md
specifies) for the test scripts that write segment bytes by hand."""


def crc32c(b):
    """The CRC-32C of the bytes b."""
    c = 0xFFFFFFFF
    for x in b:
        c ^= x
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 & -(c & 1))
    return c ^ 0xFFFFFFFF
