"""A QR code encoder and PNG writer, standard library only.

The real server turns Baileys' QR string into a data URL with the ``qrcode`` npm package
(error correction level H, scale 4, margin 3, light ``#ffffff``, dark ``QRCODE_COLOR``) and the
PNG is 8-bit RGBA. The double draws the same kind of image, so a client that decodes the PNG
(or shows it to a phone) deals with a real, scannable QR code of the ``code`` string.

Only byte mode and level H are implemented: that is all the double needs.
"""

from __future__ import annotations

import itertools
import re
import struct
import zlib

# Level H: error correction codewords per block and number of blocks, for versions 1 to 40.
_H_ECC_PER_BLOCK = (
    17, 28, 22, 16, 22, 28, 26, 26, 24, 28, 24, 28, 22, 24, 24, 30, 28, 28, 26, 28,
    30, 24, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30,
)  # fmt: skip
_H_BLOCKS = (
    1, 1, 2, 4, 4, 4, 5, 6, 8, 8, 11, 11, 16, 16, 18, 16, 19, 21, 25, 25,
    25, 34, 30, 32, 35, 37, 40, 42, 45, 48, 51, 54, 57, 60, 63, 66, 70, 74, 77, 81,
)  # fmt: skip
_H_FORMAT_BITS = 0b10  # the two error-correction-level bits of the format information


# -- Reed-Solomon over GF(256) with the QR polynomial x^8 + x^4 + x^3 + x^2 + 1 ---------------
def _gf_tables() -> tuple[list[int], list[int]]:
    exp, log = [0] * 512, [0] * 256
    value = 1
    for power in range(255):
        exp[power] = value
        log[value] = power
        value <<= 1
        if value & 0x100:
            value ^= 0x11D
    for power in range(255, 512):
        exp[power] = exp[power - 255]
    return exp, log


_EXP, _LOG = _gf_tables()


def _gf_mul(a: int, b: int) -> int:
    return 0 if a == 0 or b == 0 else _EXP[_LOG[a] + _LOG[b]]


def _rs_generator(degree: int) -> list[int]:
    """Coefficients (highest power first, leading 1 dropped) of prod (x - a^i), i < degree."""
    poly = [1]
    for i in range(degree):
        poly = [*poly, 0]
        for j in range(len(poly) - 1, 0, -1):
            poly[j] ^= _gf_mul(poly[j - 1], _EXP[i])
    return poly[1:]


def _rs_remainder(data: bytes, degree: int) -> list[int]:
    gen = _rs_generator(degree)
    rem = [0] * degree
    for byte in data:
        factor = byte ^ rem[0]
        rem = [*rem[1:], 0]
        for i, coef in enumerate(gen):
            rem[i] ^= _gf_mul(coef, factor)
    return rem


# -- Layout -----------------------------------------------------------------------------------
def _raw_codewords(version: int) -> int:
    modules = (16 * version + 128) * version + 64
    if version >= 2:
        aligns = version // 7 + 2
        modules -= (25 * aligns - 10) * aligns - 55
        if version >= 7:
            modules -= 36
    return modules // 8


def _data_codewords(version: int) -> int:
    return _raw_codewords(version) - _H_ECC_PER_BLOCK[version - 1] * _H_BLOCKS[version - 1]


def _alignment_positions(version: int) -> list[int]:
    if version == 1:
        return []
    count = version // 7 + 2
    size = version * 4 + 17
    step = 26 if version == 32 else (version * 4 + count * 2 + 1) // (count * 2 - 2) * 2
    return [6, *sorted(size - 7 - i * step for i in range(count - 1))]


def _bch(value: int, poly: int, bits: int) -> int:
    """``value`` followed by its BCH remainder modulo ``poly`` (of degree ``bits``)."""
    rem = value << bits
    for shift in range(rem.bit_length() - 1, bits - 1, -1):
        if rem >> shift & 1:
            rem ^= poly << (shift - bits)
    return value << bits | rem


_MASKS = (
    lambda x, y: (x + y) % 2 == 0,
    lambda x, y: y % 2 == 0,
    lambda x, y: x % 3 == 0,
    lambda x, y: (x + y) % 3 == 0,
    lambda x, y: (x // 3 + y // 2) % 2 == 0,
    lambda x, y: x * y % 2 + x * y % 3 == 0,
    lambda x, y: (x * y % 2 + x * y % 3) % 2 == 0,
    lambda x, y: ((x + y) % 2 + x * y % 3) % 2 == 0,
)


class _Matrix:
    def __init__(self, version: int) -> None:
        self.version = version
        self.size = version * 4 + 17
        self.dark = [[False] * self.size for _ in range(self.size)]
        self.reserved = [[False] * self.size for _ in range(self.size)]

    def put(self, x: int, y: int, dark: bool) -> None:
        self.dark[y][x] = dark
        self.reserved[y][x] = True

    def draw_function_patterns(self) -> None:
        size = self.size
        for i in range(size):
            self.put(6, i, i % 2 == 0)
            self.put(i, 6, i % 2 == 0)
        for cx, cy in ((3, 3), (size - 4, 3), (3, size - 4)):
            for dy in range(-4, 5):
                for dx in range(-4, 5):
                    x, y = cx + dx, cy + dy
                    if 0 <= x < size and 0 <= y < size:
                        ring = max(abs(dx), abs(dy))
                        self.put(x, y, ring not in (2, 4))
        positions = _alignment_positions(self.version)
        last = len(positions) - 1
        for i, cy in enumerate(positions):
            for j, cx in enumerate(positions):
                if (i, j) in ((0, 0), (0, last), (last, 0)):
                    continue  # these corners hold finder patterns
                for dy in range(-2, 3):
                    for dx in range(-2, 3):
                        self.put(cx + dx, cy + dy, max(abs(dx), abs(dy)) != 1)
        self.draw_format(0)  # reserves the area; drawn for real once the mask is chosen
        if self.version >= 7:
            bits = _bch(self.version, 0x1F25, 12)
            for i in range(18):
                dark = bool(bits >> i & 1)
                a, b = size - 11 + i % 3, i // 3
                self.put(a, b, dark)
                self.put(b, a, dark)

    def draw_format(self, mask: int) -> None:
        size = self.size
        bits = _bch(_H_FORMAT_BITS << 3 | mask, 0x537, 10) ^ 0x5412
        for i in range(15):
            dark = bool(bits >> i & 1)
            if i < 6:
                self.put(8, i, dark)
            elif i < 8:
                self.put(8, i + 1, dark)
            elif i == 8:
                self.put(7, 8, dark)
            else:
                self.put(14 - i, 8, dark)
            if i < 8:
                self.put(size - 1 - i, 8, dark)
            else:
                self.put(8, size - 15 + i, dark)
        self.put(8, size - 8, True)

    def draw_codewords(self, codewords: bytes) -> None:
        size, index, total = self.size, 0, len(codewords) * 8
        right = size - 1
        while right >= 1:
            if right == 6:
                right = 5
            upward = (right + 1) & 2 == 0
            for vert in range(size):
                y = size - 1 - vert if upward else vert
                for x in (right, right - 1):
                    if not self.reserved[y][x]:
                        if index < total:
                            self.dark[y][x] = bool(codewords[index >> 3] >> (7 - (index & 7)) & 1)
                        index += 1
            right -= 2

    def apply_mask(self, mask: int) -> None:
        test = _MASKS[mask]
        for y in range(self.size):
            for x in range(self.size):
                if not self.reserved[y][x] and test(x, y):
                    self.dark[y][x] = not self.dark[y][x]

    def penalty(self) -> int:
        """The mask penalty of the QR specification (runs, 2x2 blocks, finder-like, balance)."""
        size = self.size
        rows = ["".join("1" if cell else "0" for cell in row) for row in self.dark]
        columns = ["".join(row[x] for row in rows) for x in range(size)]
        score = 0
        for line in rows + columns:
            score += sum(len(run) - 2 for run in _RUN.findall(line))
            score += 40 * len(_FINDER_LIKE.findall(line))
        for upper, lower in itertools.pairwise(rows):
            for x in range(size - 1):
                if upper[x] == upper[x + 1] == lower[x] == lower[x + 1]:
                    score += 3
        total_dark = sum(row.count("1") for row in rows)
        score += abs(total_dark * 20 - size * size * 10) // (size * size) * 10
        return score


_RUN = re.compile(r"0{5,}|1{5,}")
_FINDER_LIKE = re.compile(r"(?=10111010000|00001011101)")


def _codewords(data: bytes) -> tuple[int, bytes]:
    """Pick the smallest version holding ``data`` and return it with the final codewords."""
    for version in range(1, 41):
        count_bits = 8 if version < 10 else 16
        capacity = _data_codewords(version)
        if 4 + count_bits + len(data) * 8 <= capacity * 8:
            break
    else:
        raise ValueError(f"{len(data)} bytes do not fit in a level-H QR code")
    bits = f"0100{len(data):0{count_bits}b}" + "".join(f"{byte:08b}" for byte in data)
    bits += "0" * min(4, capacity * 8 - len(bits))
    bits += "0" * (-len(bits) % 8)
    payload = bytearray(int(bits[i : i + 8], 2) for i in range(0, len(bits), 8))
    pad = 0
    while len(payload) < capacity:
        payload.append((0xEC, 0x11)[pad % 2])
        pad += 1

    blocks_count, ecc = _H_BLOCKS[version - 1], _H_ECC_PER_BLOCK[version - 1]
    raw = _raw_codewords(version)
    short_blocks, short_len = blocks_count - raw % blocks_count, raw // blocks_count
    blocks, offset = [], 0
    for i in range(blocks_count):
        length = short_len - ecc + (0 if i < short_blocks else 1)
        chunk = bytes(payload[offset : offset + length])
        offset += length
        blocks.append((chunk, _rs_remainder(chunk, ecc)))
    result = bytearray()
    for i in range(short_len - ecc + 1):
        result.extend(chunk[i] for chunk, _ in blocks if i < len(chunk))
    for i in range(ecc):
        result.extend(ecc_words[i] for _, ecc_words in blocks)
    return version, bytes(result)


def qr_matrix(text: str) -> list[list[bool]]:
    """The QR code of ``text`` (UTF-8, byte mode, level H) as rows of dark/light modules."""
    version, codewords = _codewords(text.encode())
    best: tuple[int, _Matrix] | None = None
    for mask in range(8):
        matrix = _Matrix(version)
        matrix.draw_function_patterns()
        matrix.draw_codewords(codewords)
        matrix.apply_mask(mask)
        matrix.draw_format(mask)
        score = matrix.penalty()
        if best is None or score < best[0]:
            best = (score, matrix)
    assert best is not None
    return best[1].dark


def _rgba(color: str) -> bytes:
    value = color.lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    if len(value) == 6:
        value += "ff"
    return bytes.fromhex(value)


def png(matrix: list[list[bool]], scale: int = 4, margin: int = 3, dark: str = "#000000") -> bytes:
    """An 8-bit RGBA PNG of ``matrix`` with a light quiet zone of ``margin`` modules."""
    ink, paper = _rgba(dark), _rgba("#ffffff")
    size = len(matrix) + 2 * margin
    quiet = b"\x00" + paper * (size * scale)  # a filter byte, then a light row
    rows = bytearray(quiet * (margin * scale))
    for line in matrix:
        pixels = [paper * (margin * scale)]
        pixels += [(ink if dark_module else paper) * scale for dark_module in line]
        pixels.append(paper * (margin * scale))
        rows += (b"\x00" + b"".join(pixels)) * scale
    rows += quiet * (margin * scale)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", size * scale, size * scale, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + chunk(b"IEND", b"")
    )
