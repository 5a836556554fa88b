"""A link as a QR code picture (PNG), for a client to show a friend's phone camera."""
from __future__ import annotations

import io

import segno


def qr_png(link: str) -> bytes:
    picture = io.BytesIO()
    segno.make(link, error="m").save(picture, kind="png", scale=8, border=4)
    return picture.getvalue()
