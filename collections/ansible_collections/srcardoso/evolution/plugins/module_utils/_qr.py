# Copyright: (c) 2026, srcardoso.evolution developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn the QR code PNG of the Evolution API into text a terminal can show.

This module util is PRIVATE to the collection; its interface may change without notice.

Pure Python (zlib and struct only): decode the PNG, find the QR modules, and draw two module
rows per text line with the Unicode half blocks. No imaging library is needed on the host.
"""

from __future__ import annotations

import base64
import binascii
import struct
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# The empty cell of the drawing (a no-break space).
BLANK = "\u00a0"
# Samples per pixel for each PNG colour type.
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


class QRError(ValueError):
    """The image is not a PNG this decoder reads, or holds no QR code."""


def png_from_data_url(value):
    """The PNG bytes of a ``data:image/png;base64,...`` URL (or of bare base64)."""
    text = value.strip() if isinstance(value, str) else ""
    if text.startswith("data:"):
        header, _comma, text = text.partition(",")
        if ";base64" not in header:
            raise QRError("the QR code is a data URL without base64 content")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise QRError(f"the QR code is not valid base64 ({exc})") from None
    if not data.startswith(PNG_SIGNATURE):
        raise QRError("the QR code is not a PNG image")
    return data


def _chunks(data):
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if len(body) != length:
            raise QRError("the PNG is truncated")
        yield kind, body
        pos += 12 + length
        if kind == b"IEND":
            return


def _paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def _unfilter(raw, height, stride, bpp):
    rows = []
    previous = bytearray(stride)
    pos = 0
    for _row in range(height):
        kind = raw[pos]
        line = bytearray(raw[pos + 1 : pos + 1 + stride])
        pos += 1 + stride
        if len(line) != stride:
            raise QRError("the PNG image data is truncated")
        if kind == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif kind == 2:
            for i in range(stride):
                line[i] = (line[i] + previous[i]) & 0xFF
        elif kind == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                upper_left = previous[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + _paeth(left, previous[i], upper_left)) & 0xFF
        elif kind != 0:
            raise QRError(f"the PNG uses an unknown filter type {kind}")
        rows.append(line)
        previous = line
    return rows


def decode_png(data):
    """Decode a non-interlaced PNG; return its rows of luminance (0 black .. 255 white)."""
    if not data.startswith(PNG_SIGNATURE):
        raise QRError("not a PNG image")
    header = None
    palette = None
    transparency = None
    idat = []
    for kind, body in _chunks(data):
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"PLTE":
            palette = [tuple(body[i : i + 3]) for i in range(0, len(body), 3)]
        elif kind == b"tRNS":
            transparency = body
        elif kind == b"IDAT":
            idat.append(body)
    if header is None:
        raise QRError("the PNG has no IHDR chunk")
    width, height, depth, colour, _compression, _filter, interlace = header
    if colour not in _CHANNELS or depth not in (1, 2, 4, 8, 16):
        raise QRError(f"unsupported PNG colour type {colour} / bit depth {depth}")
    if interlace:
        raise QRError("interlaced PNG images are not supported")
    try:
        raw = zlib.decompress(b"".join(idat))
    except zlib.error as exc:
        raise QRError(f"the PNG image data is corrupt ({exc})") from None
    channels = _CHANNELS[colour]
    bits = depth * channels
    stride = (width * bits + 7) // 8
    rows = _unfilter(raw, height, stride, max(1, bits // 8))
    image = []
    for line in rows:
        samples = _samples(line, width * channels, depth)
        image.append(_luminance(samples, width, colour, depth, palette, transparency))
    return image


def _samples(line, count, depth):
    if depth == 8:
        return list(line[:count])
    if depth == 16:
        return [line[i] for i in range(0, count * 2, 2)]
    per_byte = 8 // depth
    mask = (1 << depth) - 1
    out = []
    for i in range(count):
        byte = line[i // per_byte]
        shift = 8 - depth * (i % per_byte + 1)
        out.append((byte >> shift) & mask)
    return out


def _luminance(samples, width, colour, depth, palette, transparency):
    """Grey level per pixel; transparent pixels count as white (the page behind a QR)."""
    scale = 255 // ((1 << min(depth, 8)) - 1)
    out = []
    for x in range(width):
        if colour == 0:
            out.append(samples[x] * scale)
        elif colour == 4:
            grey, alpha = samples[2 * x] * scale, samples[2 * x + 1] * scale
            out.append((grey * alpha + 255 * (255 - alpha)) // 255)
        elif colour == 3:
            index = samples[x]
            if palette is None or index >= len(palette):
                raise QRError("the PNG palette is missing or too short")
            red, green, blue = palette[index]
            alpha = transparency[index] if transparency and index < len(transparency) else 255
            grey = (299 * red + 587 * green + 114 * blue) // 1000
            out.append((grey * alpha + 255 * (255 - alpha)) // 255)
        else:
            step = 3 if colour == 2 else 4
            red, green, blue = (samples[step * x + i] for i in range(3))
            grey = (299 * red + 587 * green + 114 * blue) // 1000
            if colour == 6:
                alpha = samples[4 * x + 3]
                grey = (grey * alpha + 255 * (255 - alpha)) // 255
            out.append(grey)
    return out


def qr_matrix(image, threshold=128):
    """Sample the QR modules of a decoded image; return rows of booleans (True = dark).

    The symbol starts at the first dark pixel; its top-left finder pattern is 7 modules wide,
    which gives the module size in pixels.
    """
    dark = [[value < threshold for value in row] for row in image]
    rows = [y for y, row in enumerate(dark) if any(row)]
    if not rows:
        raise QRError("the image holds no dark pixels, so no QR code")
    top, bottom = rows[0], rows[-1]
    columns = [x for x in range(len(dark[0])) if any(dark[y][x] for y in rows)]
    left, right = columns[0], columns[-1]
    run = 0
    while left + run <= right and dark[top][left + run]:
        run += 1
    module = run / 7.0
    if module < 1:
        raise QRError("the image is too small to hold a readable QR code")
    size = round((right - left + 1) / module)
    height = round((bottom - top + 1) / module)
    matrix = []
    for my in range(height):
        y = min(top + int((my + 0.5) * module), bottom)
        line = []
        for mx in range(size):
            x = min(left + int((mx + 0.5) * module), right)
            line.append(dark[y][x])
        matrix.append(line)
    return matrix


def render_half_blocks(matrix, quiet=2, invert=False):
    """Draw the matrix with two module rows per line.

    By default dark modules are blank and light modules are drawn, which reads correctly on a
    terminal with a dark background; ``invert`` draws the dark modules instead.
    """
    size = len(matrix[0]) if matrix else 0
    blank = [False] * (size + 2 * quiet)
    padded = [list(blank) for _row in range(quiet)]
    padded += [[False] * quiet + list(row) + [False] * quiet for row in matrix]
    padded += [list(blank) for _row in range(quiet)]
    if len(padded) % 2:
        padded.append(list(blank))
    glyphs = {
        # A no-break space: YAML and text wrappers fold long lines at plain spaces, which would
        # tear the drawing apart in Ansible's output.
        (False, False): BLANK,
        (True, False): "\u2580",
        (False, True): "\u2584",
        (True, True): "\u2588",
    }
    lines = []
    for y in range(0, len(padded), 2):
        upper, lower = padded[y], padded[y + 1]
        if invert:
            line = "".join(glyphs[(u, d)] for u, d in zip(upper, lower, strict=True))
        else:
            line = "".join(glyphs[(not u, not d)] for u, d in zip(upper, lower, strict=True))
        lines.append(line)
    return lines


def terminal_qr(data_url, invert=False):
    """The lines of text that show the QR code of a ``data:image/png;base64`` URL."""
    image = decode_png(png_from_data_url(data_url))
    return render_half_blocks(qr_matrix(image), invert=invert)
