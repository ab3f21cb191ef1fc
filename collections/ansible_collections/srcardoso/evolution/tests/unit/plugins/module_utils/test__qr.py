"""The PNG decoder and QR renderer, checked by round trips through a PNG encoder written here.

The encoder covers every colour type and every filter type the decoder handles, so a decoded
matrix equal to the one encoded proves the decoding and the module sampling.
"""

import base64
import random
import struct
import zlib

import pytest
from ansible_collections.srcardoso.evolution.plugins.module_utils._qr import (
    BLANK,
    QRError,
    decode_png,
    png_from_data_url,
    qr_matrix,
    render_half_blocks,
    terminal_qr,
)


def finder(matrix, top, left):
    for y in range(7):
        for x in range(7):
            ring = y in (0, 6) or x in (0, 6)
            core = 2 <= y <= 4 and 2 <= x <= 4
            matrix[top + y][left + x] = ring or core


def qr_like(size=25, seed=7):
    """A QR-shaped matrix: three finder patterns and random data modules."""
    rng = random.Random(seed)
    matrix = [[rng.random() < 0.5 for _x in range(size)] for _y in range(size)]
    for top, left in ((0, 0), (0, size - 7), (size - 7, 0)):
        for y in range(-1, 8):
            for x in range(-1, 8):
                if 0 <= top + y < size and 0 <= left + x < size:
                    matrix[top + y][left + x] = False
        finder(matrix, top, left)
    return matrix


def _filter(kind, line, previous, bpp):
    out = bytearray(len(line))
    for i, value in enumerate(line):
        left = line[i - bpp] if i >= bpp else 0
        up = previous[i]
        upper_left = previous[i - bpp] if i >= bpp else 0
        if kind == 0:
            predictor = 0
        elif kind == 1:
            predictor = left
        elif kind == 2:
            predictor = up
        elif kind == 3:
            predictor = (left + up) >> 1
        else:
            p = left + up - upper_left
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - upper_left)
            predictor = left if pa <= pb and pa <= pc else (up if pb <= pc else upper_left)
        out[i] = (value - predictor) & 0xFF
    return bytes([kind]) + bytes(out)


def encode_png(matrix, scale=4, margin=4, colour=0, depth=8):
    size = len(matrix)
    pixels = (size + 2 * margin) * scale

    def dark(px, py):
        mx, my = px // scale - margin, py // scale - margin
        return 0 <= mx < size and 0 <= my < size and matrix[my][mx]

    rows = []
    for py in range(pixels):
        values = [dark(px, py) for px in range(pixels)]
        if colour == 0 and depth == 8:
            line = bytes(0 if v else 255 for v in values)
        elif colour == 0 and depth == 1:
            bits = "".join("0" if v else "1" for v in values)
            bits += "0" * (-len(bits) % 8)
            line = bytes(int(bits[i : i + 8], 2) for i in range(0, len(bits), 8))
        elif colour == 2:
            line = b"".join(b"\x10\x20\x30" if v else b"\xff\xff\xff" for v in values)
        elif colour == 6:
            # Light modules fully transparent: they must read as white.
            line = b"".join(b"\x00\x00\x00\xff" if v else b"\x00\x00\x00\x00" for v in values)
        elif colour == 3:
            line = bytes(1 if v else 0 for v in values)
        else:
            raise AssertionError("unsupported in this encoder")
        rows.append(line)
    bpp = {0: 1, 2: 3, 6: 4, 3: 1}[colour] if depth == 8 else 1
    previous = bytes(len(rows[0]))
    raw = b""
    for index, line in enumerate(rows):
        raw += _filter(index % 5, line, previous, bpp)
        previous = line

    def chunk(kind, body):
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    png = b"\x89PNG\r\n\x1a\n"
    png += chunk(b"IHDR", struct.pack(">IIBBBBB", pixels, pixels, depth, colour, 0, 0, 0))
    if colour == 3:
        png += chunk(b"PLTE", b"\xff\xff\xff\x00\x00\x00")
    png += chunk(b"IDAT", zlib.compress(raw))
    png += chunk(b"IEND", b"")
    return png


@pytest.mark.parametrize(
    ("colour", "depth", "scale"),
    [(0, 8, 4), (0, 1, 3), (2, 8, 5), (6, 8, 2), (3, 8, 6), (0, 8, 1)],
    ids=["grey8", "grey1", "rgb", "rgba-transparent", "palette", "one-pixel-modules"],
)
def test_png_round_trip_recovers_the_modules(colour, depth, scale):
    matrix = qr_like()
    image = decode_png(encode_png(matrix, scale=scale, colour=colour, depth=depth))
    assert qr_matrix(image) == matrix


def test_terminal_qr_from_a_data_url():
    matrix = qr_like(size=21)
    data_url = "data:image/png;base64," + base64.b64encode(encode_png(matrix)).decode()
    lines = terminal_qr(data_url)
    # 21 modules + 2 quiet modules on each side; two module rows per line.
    assert len(lines) == 13
    assert all(len(line) == 25 for line in lines)
    assert lines[0] == "\u2588" * 25
    # The first two symbol rows over the finder: a dark top edge with dark sides (blank), a
    # light inside below the top edge (lower half block), then the light separator (full).
    assert lines[1][:10] == "\u2588\u2588" + BLANK + "\u2584" * 5 + BLANK + "\u2588"


@pytest.mark.parametrize(
    ("matrix", "invert", "expected"),
    [
        ([[True]], False, ["\u2588\u2580\u2588", "\u2588\u2588\u2588"]),
        ([[True]], True, ["_\u2584_", "___"]),
        ([[True, False], [False, True]], True, ["_\u2584__", "__\u2580_"]),
    ],
)
def test_render_half_blocks(matrix, invert, expected):
    expected = [line.replace("_", BLANK) for line in expected]
    assert render_half_blocks(matrix, quiet=1, invert=invert) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("data:image/png;base64,!!!", "the QR code is not valid base64"),
        ("data:image/png," + "QUJD", "the QR code is a data URL without base64 content"),
        (base64.b64encode(b"GIF89a....").decode(), "the QR code is not a PNG image"),
        (None, "the QR code is not a PNG image"),
    ],
)
def test_png_from_data_url_rejects(value, message):
    with pytest.raises(QRError) as caught:
        png_from_data_url(value)
    assert str(caught.value).startswith(message)


def test_blank_image_has_no_qr_code():
    with pytest.raises(QRError, match="no dark pixels"):
        qr_matrix([[255] * 10 for _row in range(10)])
