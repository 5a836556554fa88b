"""A link as a QR code picture (PNG), for a client to show a friend's phone camera."""
from __future__ import annotations

import io


def qr_png(link: str) -> bytes:
    import segno  # on first use: most conversations never show a link

    picture = io.BytesIO()
    segno.make(link, error="m").save(picture, kind="png", scale=8, border=4)
    return picture.getvalue()
